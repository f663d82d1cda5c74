#include "load/report.h"

#include <cmath>
#include <cstdio>

namespace parley::bench {

namespace json = boost::json;

namespace {

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

struct Derived {
  double sends_per_s = 0;
  double deliveries_per_s = 0;
  double client_cores = -1;
  double server_cores = -1;
  double server_us_per_send = -1;
  double server_us_per_delivery = -1;
  double server_write_bytes_per_send = -1;
};

Derived Derive(const StepStats& s) {
  Derived d;
  if (s.window_s > 0) {
    d.sends_per_s = static_cast<double>(s.measured_sends) / s.window_s;
    d.deliveries_per_s = static_cast<double>(s.measured_delivered) / s.window_s;
  }
  if (s.cpu_start.wall_ns != 0) {
    d.client_cores = CoreShare(s.cpu_start.self_cpu_ns, s.cpu_end.self_cpu_ns, s.cpu_start.wall_ns,
                               s.cpu_end.wall_ns);
    d.server_cores = CoreShare(s.cpu_start.server_cpu_ns, s.cpu_end.server_cpu_ns,
                               s.cpu_start.wall_ns, s.cpu_end.wall_ns);
    if (d.server_cores >= 0) {
      // Per message the server finished (acked) while the window's sends
      // went out: meaningful also when it fell behind the offered rate.
      double cpu_us =
          static_cast<double>(s.cpu_end.server_cpu_ns - s.cpu_start.server_cpu_ns) / 1e3;
      if (s.window_acks > 0) d.server_us_per_send = cpu_us / static_cast<double>(s.window_acks);
      if (s.window_deliveries > 0) {
        d.server_us_per_delivery = cpu_us / static_cast<double>(s.window_deliveries);
      }
      if (s.window_acks > 0 && s.cpu_start.server_write_bytes >= 0) {
        d.server_write_bytes_per_send =
            static_cast<double>(s.cpu_end.server_write_bytes - s.cpu_start.server_write_bytes) /
            static_cast<double>(s.window_acks);
      }
    }
  }
  return d;
}

}  // namespace

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool StepPasses(const StepStats& s, double p99_target_ms, std::string* why) {
  if (s.measured_sends == 0) {
    *why = "no sends";
  } else if (s.refused > 0) {
    *why = "refused sends";
  } else if (s.skipped_closed > 0) {
    *why = "connections closed";
  } else if (s.outstanding_after_grace > 0) {
    *why = "missing after grace";
  } else if (Ms(s.e2e.Quantile(0.99)) > p99_target_ms) {
    *why = "p99 over target";
  } else if (Ms(s.lag.Quantile(0.99)) > 5) {
    *why = "generator behind schedule";
  } else {
    why->clear();
    return true;
  }
  return false;
}

std::string StepTableHeader() {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%10s %10s %11s %8s %8s %8s %8s %8s %8s %7s %7s %8s %8s  %s",
                "offered/s", "sent/s", "delivered/s", "p50 ms", "p90 ms", "p99 ms", "p99.9",
                "max ms", "ack p99", "cli cpu", "srv cpu", "srv us/m", "srv KB/m", "verdict");
  return buf;
}

std::string StepTableRow(const StepStats& s, bool pass, const std::string& why) {
  Derived d = Derive(s);
  auto pct = [](double cores) {
    return cores < 0 ? std::string("-") : Fixed(cores * 100, 0) + "%";
  };
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "%10.0f %10.0f %11.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %7s %7s %8s %8s  %s",
      s.offered_rate, d.sends_per_s, d.deliveries_per_s, Ms(s.e2e.Quantile(0.5)),
      Ms(s.e2e.Quantile(0.9)), Ms(s.e2e.Quantile(0.99)), Ms(s.e2e.Quantile(0.999)), Ms(s.e2e.max()),
      Ms(s.ack.Quantile(0.99)), pct(d.client_cores).c_str(), pct(d.server_cores).c_str(),
      d.server_us_per_send < 0 ? "-" : Fixed(d.server_us_per_send, 1).c_str(),
      d.server_write_bytes_per_send < 0 ? "-"
                                        : Fixed(d.server_write_bytes_per_send / 1024, 1).c_str(),
      pass ? "ok" : ("FAIL: " + why).c_str());
  return buf;
}

json::object LatencyJson(const Histogram& h) {
  // Integer microseconds: exact to read, no binary-float noise in the JSON.
  auto us = [](double ns) { return static_cast<int64_t>(std::llround(ns / 1e3)); };
  json::object o;
  o["count"] = h.count();
  o["p50_us"] = us(static_cast<double>(h.Quantile(0.5)));
  o["p90_us"] = us(static_cast<double>(h.Quantile(0.9)));
  o["p99_us"] = us(static_cast<double>(h.Quantile(0.99)));
  o["p999_us"] = us(static_cast<double>(h.Quantile(0.999)));
  o["max_us"] = us(static_cast<double>(h.max()));
  o["mean_us"] = us(h.mean());
  return o;
}

json::value Num(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) return static_cast<int64_t>(v);
  return v;
}

std::string LatencyText(const Histogram& h) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (n=%llu)",
                Ms(h.Quantile(0.5)), Ms(h.Quantile(0.9)), Ms(h.Quantile(0.99)),
                Ms(h.Quantile(0.999)), Ms(h.max()), static_cast<unsigned long long>(h.count()));
  return buf;
}

json::object StepJson(const StepStats& s, bool pass, const std::string& why) {
  Derived d = Derive(s);
  auto whole = [](double v) { return static_cast<int64_t>(std::llround(v)); };
  json::object o;
  o["offered_per_s"] = whole(s.offered_rate);
  o["sent_per_s"] = whole(d.sends_per_s);
  o["delivered_per_s"] = whole(d.deliveries_per_s);
  o["sends"] = s.measured_sends;
  o["deliveries_expected"] = s.measured_expected;
  o["deliveries_in_grace"] = s.measured_delivered;
  o["window_acks"] = s.window_acks;
  o["window_deliveries"] = s.window_deliveries;
  o["e2e"] = LatencyJson(s.e2e);
  o["ack"] = LatencyJson(s.ack);
  o["pacing_lag"] = LatencyJson(s.lag);
  o["refused"] = s.refused;
  o["skipped_closed"] = s.skipped_closed;
  o["outstanding_after_grace"] = s.outstanding_after_grace;
  o["drained"] = s.drained;
  // -1: not measured (no --server-pid, or not the sampling loop).
  o["client_cpu_pct"] = d.client_cores < 0 ? -1 : whole(d.client_cores * 100);
  o["server_cpu_pct"] = d.server_cores < 0 ? -1 : whole(d.server_cores * 100);
  o["server_ns_per_send"] = d.server_us_per_send < 0 ? -1 : whole(d.server_us_per_send * 1e3);
  o["server_ns_per_delivery"] =
      d.server_us_per_delivery < 0 ? -1 : whole(d.server_us_per_delivery * 1e3);
  o["server_write_bytes_per_send"] =
      d.server_write_bytes_per_send < 0 ? -1 : whole(d.server_write_bytes_per_send);
  o["pass"] = pass;
  if (!pass) o["why"] = why;
  return o;
}

json::object TallyJson(const DeliveryTally& t) {
  json::object o;
  o["sent"] = t.sent;
  o["acked"] = t.acked;
  o["refused"] = t.refused;
  o["unacked"] = t.unacked;
  o["lost"] = t.lost;
  o["duplicated"] = t.duplicated;
  o["out_of_order"] = t.out_of_order;
  o["mismatched"] = t.mismatched;
  o["unknown"] = t.unknown;
  o["seq_gaps"] = t.seq_gaps;
  o["seq_reused"] = t.seq_reused;
  o["send_order"] = t.send_order;
  o["clean"] = t.clean();
  return o;
}

std::string TallyText(const DeliveryTally& t) {
  std::string s = "deliveries: " + std::to_string(t.sent) + " sent, " + std::to_string(t.acked) +
                  " acked, " + std::to_string(t.refused) + " refused";
  if (t.clean()) return s + "; every acked message delivered exactly once, in order";
  s += "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n";
  s += "!!! DELIVERY VIOLATIONS\n";
  auto line = [&](const char* what, uint64_t n) {
    if (n > 0) s += "!!!   " + std::string(what) + ": " + std::to_string(n) + "\n";
  };
  line("lost (acked, never received)", t.lost);
  line("unacked sends (no ack or error)", t.unacked);
  line("duplicated", t.duplicated);
  line("out of order", t.out_of_order);
  line("conv/seq mismatches", t.mismatched);
  line("unknown ids", t.unknown);
  line("seq gaps", t.seq_gaps);
  line("seqs given twice", t.seq_reused);
  line("sends sequenced out of send order", t.send_order);
  s += "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!";
  return s;
}

}  // namespace parley::bench
