// What a run prints: a human table on stdout as it goes (progress on
// stderr), then one JSON line with every figure, last on stdout.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "load/delivery_checker.h"
#include "load/histogram.h"
#include "load/message_load.h"

namespace parley::bench {

// Whether a step meets the pass mark: e2e p99 within target, nothing
// missing after the grace period, no refused or skipped sends, and the
// generator on schedule (pacing lag p99 <= 5 ms). `why` names the first miss.
bool StepPasses(const StepStats& s, double p99_target_ms, std::string* why);

std::string StepTableHeader();
std::string StepTableRow(const StepStats& s, bool pass, const std::string& why);
boost::json::object StepJson(const StepStats& s, bool pass, const std::string& why);

// Latency summary in integer us: p50, p90, p99, p99.9, max, mean, count.
boost::json::object LatencyJson(const Histogram& h);
std::string LatencyText(const Histogram& h);

boost::json::object TallyJson(const DeliveryTally& t);
// One line when clean; otherwise a loud block naming every violation.
std::string TallyText(const DeliveryTally& t);

// A number for the JSON line: an integer when it is whole.
boost::json::value Num(double v);

// Fixed-point rendering (to_string gives six decimals).
std::string Fixed(double v, int decimals);

}  // namespace parley::bench
