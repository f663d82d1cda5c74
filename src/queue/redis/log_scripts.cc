#include "queue/redis/log_scripts.h"

namespace parley::queue::log_scripts {

const redis::Script& Append() {
  static const redis::Script script(R"lua(
local n = (#KEYS - 1) / 2
local fence = ARGV[1] == '1'
if fence then
  local last, sent = {}, {}
  for i = 1, n do
    local seq = tonumber(ARGV[3 * i])
    if seq > 0 then
      local key = KEYS[2 * i]
      local cur = last[key]
      if cur == nil then cur = tonumber(redis.call('GET', key) or '0') end
      if seq ~= cur + 1 then
        return redis.error_reply('SEQFENCE ' .. key .. ' is at ' .. cur .. ', got seq ' .. ARGV[3 * i])
      end
      last[key] = seq
    end
    local record = KEYS[2 * i + 1]
    if record ~= '' then
      if sent[record] or string.sub(redis.call('GET', record) or '', 1, 1) == 'A' then
        return redis.error_reply('ACCEPTED ' .. record .. ' was accepted before')
      end
      sent[record] = true
    end
  end
end
for i = 1, n do
  redis.call('XADD', KEYS[1], '0-*', 'm', ARGV[3 * i + 1])
  if fence and ARGV[3 * i] ~= '0' then redis.call('SET', KEYS[2 * i], ARGV[3 * i]) end
  if KEYS[2 * i + 1] ~= '' then
    redis.call('SET', KEYS[2 * i + 1], ARGV[3 * i + 2], 'PX', ARGV[2])
  end
end
return n
)lua");
  return script;
}

const redis::Script& CreateGroup() {
  static const redis::Script script(R"lua(
local added, len = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1]
    elseif info[i] == 'length' then len = info[i + 1] end
  end
end
local id, read = '0', added - len
if ARGV[2] == '1' then id, read = '$', added end
local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], id, 'MKSTREAM', 'ENTRIESREAD', read)
if type(r) == 'table' and r.err then
  if string.find(r.err, 'BUSYGROUP', 1, true) then return 0 end
  return r
end
return 1
)lua");
  return script;
}

const redis::Script& LagSnapshot() {
  static const redis::Script script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local out = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local lag = f['lag']
  if not lag then
    -- Unknown to Redis (an XDEL inside the range): count, boundedly.
    lag = #redis.call('XRANGE', KEYS[1], '(' .. f['last-delivered-id'], '+', 'COUNT', 1000000)
  end
  out[#out + 1] = f['name']
  out[#out + 1] = lag + f['pending']
end
return {redis.call('XLEN', KEYS[1]), out}
)lua");
  return script;
}

const redis::Script& Trim() {
  static const redis::Script script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local have, minid = {}, nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  have[f['name']] = true
  local keep = f['last-delivered-id']
  if f['pending'] > 0 then
    keep = redis.call('XPENDING', KEYS[1], f['name'])[2]
  end
  if minid == nil or before(keep, minid) then minid = keep end
end
if minid == nil then return 0 end
for i = 1, #ARGV do
  if not have[ARGV[i]] then return 0 end
end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
)lua");
  return script;
}

}  // namespace parley::queue::log_scripts
