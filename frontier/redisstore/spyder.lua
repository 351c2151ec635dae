#!lua name=spyder

-- spyder.lua: the frontier's server-side library (Redis Functions, loaded
-- with FUNCTION LOAD REPLACE by every master on every primary: functions
-- survive restarts and failovers, the script cache does not).
--
-- Every function works on one partition: KEYS[1] is the partition's key
-- prefix "<crawl>:{pN}:", whose hash tag puts all of the partition's keys
-- in one slot, so one call changes a host's queue, seen set, politeness
-- clock and leases atomically. (On Redis 7.0 a function may touch keys it
-- did not declare when they hash to the slot of one it did.) Every time is
-- Redis's own clock (TIME) in milliseconds: the masters send offsets from
-- their "now", never their clocks, so that no two masters' clocks and no
-- takeover can put two requests to a host closer than its delay.
--
-- Keys of a partition (prefix p):
--   p.."epoch"      STRING  fencing token: INCR on every change of owner
--   p.."owner"      STRING  "<master> <epoch>", PX the ownership lease
--   p.."seq"        STRING  lease sequence
--   p.."ready"      ZSET    host -> ms it may dispatch: max(clock, hold, head's due); hosts not in flight, with URLs
--   p.."clock"      HASH    host -> next-allowed ms (politeness clock)
--   p.."hold"       HASH    host -> held until ms (Retry-After, an operator's block, robots.txt retry)
--   p.."block"      HASH    host -> an operator's block until ms (also in hold; kept apart to say why a host waits)
--   p.."delay"      HASH    host -> an operator's least delay ms
--   p.."busy"       HASH    host -> the lease in flight: its record (one request per host in flight)
--   p.."q:"..host   ZSET    queue entry -> due ms
--   p.."s:"..b      HASH    fp[3..14] -> URL record ("" until its first result): seen set, bucket b
--   p.."hcount"     HASH    host -> URLs admitted (max_urls_per_host)
--   p.."robots"     HASH    origin -> rules (encoded by the masters)
--   p.."rtime"      HASH    origin -> "expires retryAt crawlDelay" (ms)
--   p.."n"          HASH    counters
--
-- A queue entry is fp(14) flags(1) attempts(1) level(1) depth(2) added(4, s,
-- the admitting master's clock) url (see parse_entry for the flags).

local NEW_BASE = 2 ^ 41 -- new URLs sort before every known one (due = added - NEW_BASE), in the order they came
local RETURNED = -(2 ^ 43) -- a URL whose lease ended without a result goes first
local MAX_HISTORY = 16

-- now_ms is Redis's clock in whole milliseconds, rounded down: a host is
-- due when its time is <= now_ms. A politeness clock is set from
-- after(now) = now_ms + 1, rounded up, so that the rounding can never
-- bring two requests to a host closer than its delay.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function after(now) return now + 1 end

local function num(s) return string.format('%.0f', s) end

-- strs() gives a table that turns each number into a string once per
-- call: a number handed to redis.call, or joined into a record, is
-- printed (sprintf) each time, which costs about as much as a Redis
-- command (and a call's many clocks and expiries are mostly one value).
-- Integers print exactly with %.14g up to 10^14 (ms times, leases).
local STRS = { __index = function(t, n)
  local v = tostring(n)
  t[n] = v
  return v
end }
local function strs() return setmetatable({}, STRS) end

local function u16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end

local function u32(s, i)
  local n = 0
  for k = i, i + 3 do n = n * 256 + s:byte(k) end
  return n
end

-- Entry flags: bit 0 scheduled for a revisit, bit 1 a seed; bits 2 and
-- 3: the URL is stored without its "http://<host>" (4) or
-- "https://<host>" (8) prefix, which its queue's host gives back (a
-- third of a typical URL's bytes, in the structure most of the frontier's
-- memory is); bit 4 (16): the URL has a record in the seen set (it had a
-- result), whose history a later result keeps (the master sets it when it
-- queues the URL again, and writes a first result's record whole); bit 5
-- (32): the URL is followed by how it was found, for the crawl log.
local function bit(flags, b) return math.floor(flags / b) % 2 == 1 end

local function parse_entry(m, host)
  local flags, url = m:byte(15), m:sub(24)
  if bit(flags, 32) then
    -- (how the URL was found follows it: \0 via \0 hop path; the
    -- masters read it)
    url = url:sub(1, url:find('\0', 1, true) - 1)
  end
  if bit(flags, 4) then
    url = 'http://' .. host .. url
  elseif bit(flags, 8) then
    url = 'https://' .. host .. url
  end
  return {
    fp = m:sub(1, 14), flags = flags, attempts = m:byte(16), level = m:byte(17),
    depth = u16(m, 18), added = u32(m, 20) * 1000, url = url,
  }
end

-- origin_of is scheme://host[:port] of a URL, without credentials (as
-- urlx.SplitOrigin has it).
local function origin_of(url)
  local i = url:find('://', 1, true)
  if not i then return '' end
  local j = url:find('[/?#]', i + 3)
  local stop = (j or #url + 1) - 1
  local at = url:find('@', i + 3, true)
  if at and at <= stop then
    -- credentials: the host is after the last '@' of the authority
    local auth = url:sub(i + 3, stop)
    return url:sub(1, i + 2) .. auth:sub(auth:match('.*@()'))
  end
  return url:sub(1, stop)
end

-- seen: the seen-set bucket and field of a fingerprint.
local function seen(p, fp, buckets)
  return p .. 's:' .. ((fp:byte(1) * 256 + fp:byte(2)) % buckets), fp:sub(3, 14)
end

-- seen_keys is a table of the bucket keys of a partition, each made once
-- per call (a number joined into a string is printed, at some cost).
local function seen_keys(p, buckets)
  return setmetatable({}, { __index = function(t, n)
    local k = p .. 's:' .. n
    t[n] = k
    return k
  end })
end

-- A URL record: fields joined by \0 (state, status, attempts, level,
-- depth, URL, ETag, Last-Modified, WARC capture), the history last as
-- "kind,state,at,value;" events, oldest first. Records written before the
-- WARC capture was kept have no such field: their history, which has no
-- \0, follows Last-Modified.
local function parse_record(s)
  if s == nil or s == false or s == '' then return nil end
  local f, i = {}, 1
  for k = 1, 8 do
    local j = s:find('\0', i, true)
    if not j then return nil end
    f[k] = s:sub(i, j - 1)
    i = j + 1
  end
  local capture = ''
  local j = s:find('\0', i, true)
  if j then capture, i = s:sub(i, j - 1), j + 1 end
  return {
    state = tonumber(f[1]), status = tonumber(f[2]), attempts = tonumber(f[3]), level = tonumber(f[4]),
    depth = tonumber(f[5]), url = f[6], etag = f[7], lastmod = f[8], capture = capture, history = s:sub(i),
  }
end

-- An event takes 20 bytes or more: a history this short has no more
-- than MAX_HISTORY events, and is not counted.
local SHORT_HISTORY = 20 * MAX_HISTORY

-- trim keeps the last MAX_HISTORY events of a history.
local function trim(h)
  if #h > SHORT_HISTORY then
    local n = 0
    for _ in h:gmatch(';') do n = n + 1 end
    while n > MAX_HISTORY do
      h = h:sub(h:find(';', 1, true) + 1)
      n = n - 1
    end
  end
  return h
end

local function record(r, str)
  return table.concat({ str[r.state], str[r.status], str[r.attempts], str[r.level], str[r.depth], r.url, r.etag or '', r.lastmod or '', r.capture or '', trim(r.history) }, '\0')
end

local function event(str, kind, state, at, value)
  -- (times in ms and statuses print exactly with tostring's %.14g)
  return str[kind] .. ',' .. str[state] .. ',' .. str[at] .. ',' .. str[value] .. ';'
end

-- URL states and events, as the Pebble store numbers them.
local QUEUED, INFLIGHT, DONE, FAILED, SCHEDULED = 0, 1, 2, 3, 4
local EV_SEED, EV_LINK, EV_DISPATCHED, EV_RESULT, EV_LEASE_ENDED = 1, 2, 3, 4, 5

-- rescore puts host back among the ready ones at max(clock, hold, due of
-- its first URL), or takes it out when it has no URL or one in flight.
local function rescore(p, host)
  if redis.call('HEXISTS', p .. 'busy', host) == 1 then
    redis.call('ZREM', p .. 'ready', host)
    return
  end
  local head = redis.call('ZRANGE', p .. 'q:' .. host, 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', p .. 'ready', host)
    return
  end
  local at = math.max(tonumber(head[2]),
    tonumber(redis.call('HGET', p .. 'clock', host) or 0),
    tonumber(redis.call('HGET', p .. 'hold', host) or 0))
  redis.call('ZADD', p .. 'ready', at, host)
end

local function first_ready(p)
  local r = redis.call('ZRANGE', p .. 'ready', 0, 0, 'WITHSCORES')
  if #r == 0 then return -1 end
  return tonumber(r[2])
end

local function raise(key, host, at)
  if at > tonumber(redis.call('HGET', key, host) or 0) then
    redis.call('HSET', key, host, at)
  end
end

local function fenced(p, epoch)
  local e = redis.call('GET', p .. 'epoch')
  if e ~= epoch then
    return redis.error_reply('FENCED partition epoch is ' .. tostring(e) .. ', not ' .. epoch)
  end
  return nil
end

-- sp_add(p; buckets, max_per_host, then host, entry for each URL):
-- admits the URLs never seen; returns {added, too_many, now, first ready}.
local function sp_add(keys, args)
  local p, buckets, cap = keys[1], tonumber(args[1]), tonumber(args[2])
  local now = now_ms()
  local kcount, kq = p .. 'hcount', p .. 'q:'
  local score = tostring(now - NEW_BASE)
  local bks = seen_keys(p, buckets)
  local added, toomany, touched = 0, 0, {}
  for i = 3, #args, 2 do
    local host, m = args[i], args[i + 1]
    local bucket, field = bks[(m:byte(1) * 256 + m:byte(2)) % buckets], m:sub(3, 14)
    local new
    if cap == 0 then
      new = redis.call('HSETNX', bucket, field, '') == 1
    elseif redis.call('HEXISTS', bucket, field) == 1 then
      new = false
    elseif tonumber(redis.call('HGET', kcount, host) or 0) >= cap then
      new = false
      toomany = toomany + 1
    else
      redis.call('HINCRBY', kcount, host, 1)
      redis.call('HSET', bucket, field, '')
      new = true
    end
    if new then
      redis.call('ZADD', kq .. host, score, m) -- (the master wrote its added time)
      added = added + 1
      touched[host] = true
    end
  end
  -- A new URL sorts first in its queue and is due: its host may dispatch
  -- at max(clock, hold), unless it has a URL in flight.
  local kbusy, kclock, khold, kready = p .. 'busy', p .. 'clock', p .. 'hold', p .. 'ready'
  local holds = redis.call('EXISTS', khold) == 1
  for host in pairs(touched) do
    if redis.call('HEXISTS', kbusy, host) == 0 then
      local at = redis.call('HGET', kclock, host) or '0'
      if holds then at = math.max(tonumber(at), tonumber(redis.call('HGET', khold, host) or 0)) end
      redis.call('ZADD', kready, 'LT', at, host)
    end
  end
  if added > 0 then
    redis.call('HINCRBY', p .. 'n', 'seen', added)
    redis.call('HINCRBY', p .. 'n', 'queued', added)
  end
  if toomany > 0 then redis.call('HINCRBY', p .. 'n', 'toomany', toomany) end
  return { added, toomany, now, first_ready(p) }
end

-- A dispatch's writes, collected and made in one call per key.
local function batch() return { busy = {}, clock = {}, ready = {}, str = strs() } end

-- lease records the lease id of a dispatch of host at now in b: the
-- host's lease in flight, and its clock.
local function lease(b, args, id, host, kind, origin, m, min_delay, crawl_delay, now, clock)
  local lease_ms, master = tonumber(args[5]), args[8]
  local busy, clocks, ready, str = b.busy, b.clock, b.ready, b.str
  if kind == 'r' then m = origin end
  busy[#busy + 1] = host
  busy[#busy + 1] = table.concat({ str[id], kind, master, str[min_delay], str[crawl_delay], str[now], str[now + lease_ms], m }, '\0')
  clocks[#clocks + 1] = host
  clocks[#clocks + 1] = str[clock]
  ready[#ready + 1] = host
end

local function write_batch(p, b)
  if #b.busy == 0 then return end
  redis.call('HSET', p .. 'busy', unpack(b.busy))
  redis.call('HSET', p .. 'clock', unpack(b.clock))
  redis.call('ZREM', p .. 'ready', unpack(b.ready))
end

-- A lease record (the value of its host in busy): the lease, kind ("u"
-- or "r"), master, least delay, crawl delay, dispatch time, expiry, then
-- the queue entry (a robots.txt: its origin). parse_lease reads the
-- record s of host; nil for none.
local function parse_lease(s, host)
  if not s then return nil end
  local f, i = {}, 1
  for k = 1, 7 do
    local j = s:find('\0', i, true)
    if not j then return nil end
    f[k] = s:sub(i, j - 1)
    i = j + 1
  end
  local l = {
    id = f[1], kind = f[2], host = host, master = f[3], min_delay = tonumber(f[4]), crawl_delay = tonumber(f[5]),
    at = tonumber(f[6]), expires = tonumber(f[7]), entry = s:sub(i),
  }
  if l.kind == 'r' then l.origin = l.entry end
  return l
end

-- leased is the lease of host when it is id (nil otherwise).
local function leased(p, host, id)
  local l = parse_lease(redis.call('HGET', p .. 'busy', host), host)
  if l and l.id == id then return l end
  return nil
end

-- sp_dispatch(p; epoch, partitions, partition, max, lease_ms,
-- default_delay_ms, obey_robots, master, seen_buckets): hands out up to max URLs due
-- now, one per host, each under a lease, the host's politeness clock
-- moved on in the same step. Fenced: a master whose epoch is not the
-- partition's changes nothing. Returns {now, first ready, then for each
-- URL: kind ("u", or "r" for an origin's robots.txt), lease, url, level,
-- etag, last-modified, WARC capture, origin, robots.txt expiry, least
-- delay, crawl delay} (what the policy needs of the lease: the master
-- that dispatched it gets its results).
local function sp_dispatch(keys, args)
  local p = keys[1]
  local err = fenced(p, args[1])
  if err then return err end
  local parts, part, max, default_delay, obey = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[6]), args[7] == '1'
  local now = now_ms()
  local out = { now, -1 }
  local b = batch()
  local next_id = (redis.call('INCRBY', p .. 'seq', max) - max) * parts + part
  local queued, scheduled = 0, 0
  local kq, kready, kdelay = p .. 'q:', p .. 'ready', p .. 'delay'
  local delays = redis.call('EXISTS', kdelay) == 1 -- (an operator's, for some host)
  -- (hosts in ready have URLs and none in flight: rescore keeps it so)
  local hosts = redis.call('ZRANGE', kready, '-inf', now, 'BYSCORE', 'LIMIT', 0, max)
  for _, host in ipairs(hosts) do
    -- The head is taken at once (put back if robots.txt comes first).
    local head = redis.call('ZPOPMIN', kq .. host)
    if #head == 0 then
      redis.call('ZREM', kready, host)
    else
      local m = head[1]
      -- (the entry is read here only as far as needed: the master
      -- decodes it)
      local origin = ''
      if obey then origin = origin_of(parse_entry(m, host).url) end
      local min_delay = default_delay
      if delays then min_delay = tonumber(redis.call('HGET', kdelay, host) or default_delay) end
      local crawl_delay, expires, go = 0, 0, true
      if obey then
        local rt = redis.call('HGET', p .. 'rtime', origin)
        local retry_at = 0
        if rt then
          local a, r, c = rt:match('^(%S+) (%S+) (%S+)$')
          expires, retry_at, crawl_delay = tonumber(a), tonumber(r), tonumber(c)
        end
        if not rt or now >= expires then
          go = false
          crawl_delay = 0
          redis.call('ZADD', kq .. host, head[2], m)
          if retry_at > now then
            raise(p .. 'hold', host, retry_at)
            rescore(p, host)
          else
            next_id = next_id + parts
            lease(b, args, next_id, host, 'r', origin, '', min_delay, crawl_delay, now, after(now) + min_delay)
            for _, v in ipairs({ 'r', next_id, host, origin, '', '', '', origin, 0, min_delay, crawl_delay }) do out[#out + 1] = v end
          end
        end
      end
      if go then
        next_id = next_id + parts
        lease(b, args, next_id, host, 'u', origin, m, min_delay, crawl_delay, now, after(now) + math.max(min_delay, crawl_delay))
        local etag, lastmod, capture = '', '', ''
        if m:byte(15) % 2 == 1 then
          local r = parse_record(redis.call('HGET', seen(p, m, tonumber(args[9]))))
          if r then etag, lastmod, capture = r.etag, r.lastmod, r.capture end
          scheduled = scheduled + 1
        else
          queued = queued + 1
        end
        for _, v in ipairs({ 'u', next_id, host, m, etag, lastmod, capture, origin, expires, min_delay, crawl_delay }) do out[#out + 1] = v end
      end
    end
  end
  write_batch(p, b)
  if queued > 0 then redis.call('HINCRBY', p .. 'n', 'queued', -queued) end
  if scheduled > 0 then redis.call('HINCRBY', p .. 'n', 'scheduled', -scheduled) end
  out[2] = first_ready(p)
  return out
end

-- sp_lease(p; lease, host): what the policy needs of a lease: {kind, url,
-- depth, attempts, level, min delay, crawl delay, origin}, and for a
-- robots.txt the origin's rules so far; nil when it is not outstanding.
-- A URL's lease also gives what sp_complete is to be told: its host,
-- queue entry and dispatch time.
local function sp_lease(keys, args)
  local l = leased(keys[1], args[2], args[1])
  if not l then return nil end
  if l.kind == 'r' then
    return { 'r', l.origin .. '/robots.txt', 0, 0, 0, l.min_delay, l.crawl_delay, l.origin,
      redis.call('HGET', keys[1] .. 'robots', l.origin) or '' }
  end
  local e = parse_entry(l.entry, l.host)
  return { 'u', e.url, e.depth, e.attempts, e.level, l.min_delay, l.crawl_delay, origin_of(e.url), '', l.host, l.entry, l.at }
end

-- end_lease ends lease l: its host is free.
local function end_lease(p, l)
  redis.call('HDEL', p .. 'busy', l.host)
  return l
end

-- settle writes the URL record of a lease's entry e after a result and
-- queues it again when due >= 0 (flags: scheduled or queued).
local function settle(p, buckets, l, e, state, status, attempts, level, etag, lastmod, now, value, str)
  local bucket, field = seen(p, e.fp, buckets)
  local r
  if bit(e.flags, 16) then r = parse_record(redis.call('HGET', bucket, field)) end
  if not r then
    local kind = EV_LINK
    if bit(e.flags, 2) then kind = EV_SEED end
    r = { depth = e.depth, url = e.url, etag = '', lastmod = '', capture = '', history = event(str, kind, QUEUED, e.added, 0) }
  end
  r.state, r.status, r.attempts, r.level = state, status, attempts, level
  if etag then r.etag, r.lastmod = etag, lastmod end
  r.history = r.history .. event(str, EV_DISPATCHED, INFLIGHT, l.at, 0) .. event(str, EV_RESULT, state, now, value)
  redis.call('HSET', bucket, field, record(r, str))
end

-- The fields of one outcome in sp_complete's arguments.
local COMPLETE_FIELDS = 14

-- sp_complete(p; then for each result: lease, host, fate, due_offset,
-- hold_offset or -1, wait_offset, clock, entry, bucket, field, record,
-- validators, events, capture): applies the policy's outcomes, with what the
-- master knows of each lease from its dispatch: clock is the host's
-- politeness clock the dispatch set (so the step after the result needs
-- no read), entry the URL's queue entry again when it is queued again
-- (retry, revisit; else ""), bucket and field its place in the seen set.
-- A first result (events "") writes record as the URL's record; a later
-- one reads the record and keeps its history, to which events are
-- added, and its validators unless validators ("etag\0last-modified\0")
-- replaces them, and its WARC capture unless capture does; record is then
-- the head of the record (state to URL).
-- Lease-guarded: an outcome whose lease is not its host's lease in flight
-- changes nothing. Returns {now, first ready, then 1 or 0 for each}.
local function sp_complete(keys, args)
  local p = keys[1]
  local now = now_ms()
  local out = { now, -1 }
  local counts = { done = 0, retried = 0, failed = 0, queued = 0, scheduled = 0 }
  local kbusy, khold, kclock, kq, kready = p .. 'busy', p .. 'hold', p .. 'clock', p .. 'q:', p .. 'ready'
  local holds = redis.call('EXISTS', khold) == 1
  local str = strs()
  for i = 1, #args, COMPLETE_FIELDS do
    local id, host = args[i], args[i + 1]
    local rec = redis.call('HGET', kbusy, host)
    if not rec or rec:sub(1, #id + 3) ~= id .. '\0u\0' then
      out[#out + 1] = 0
    else
      out[#out + 1] = 1
      redis.call('HDEL', kbusy, host)
      local fate = args[i + 2]
      local hold = 0
      if holds then hold = tonumber(redis.call('HGET', khold, host) or 0) end
      local hold_offset = tonumber(args[i + 4])
      if hold_offset > 0 and after(now) + hold_offset > hold then
        hold = after(now) + hold_offset
        redis.call('HSET', khold, host, hold)
        holds = true
      end
      -- (While the lease was out nothing else moved the clock: one lease
      -- per host; an operator's block is a hold.)
      local clock = math.max(tonumber(args[i + 6]), after(now) + tonumber(args[i + 5]))
      redis.call('HSET', kclock, host, str[clock])
      local bucket, field, events = p .. args[i + 8], args[i + 9], args[i + 12]
      if events == '' then
        redis.call('HSET', bucket, field, args[i + 10])
      else
        local old = redis.call('HGET', bucket, field) or ''
        local v, h = 1, nil
        for _ = 1, 6 do v = (old:find('\0', v, true) or #old) + 1 end
        h = v
        for _ = 1, 2 do h = (old:find('\0', h, true) or #old) + 1 end
        local validators = args[i + 11]
        if validators == '' then validators = old:sub(v, h - 1) end
        -- (h: the WARC capture, or the history of a record older than it)
        local capture, j = args[i + 13], old:find('\0', h, true)
        if j then
          if capture == '' then capture = old:sub(h, j - 1) end
          h = j + 1
        end
        redis.call('HSET', bucket, field, args[i + 10] .. validators .. capture .. '\0' .. trim(old:sub(h) .. events))
      end
      if args[i + 7] ~= '' then
        redis.call('ZADD', kq .. host, now + tonumber(args[i + 3]), args[i + 7])
        if fate == 'revisit' then counts.scheduled = counts.scheduled + 1 else counts.queued = counts.queued + 1 end
      end
      if fate == 'retry' then counts.retried = counts.retried + 1
      elseif fate == 'failed' then counts.failed = counts.failed + 1
      else counts.done = counts.done + 1 end
      local head = redis.call('ZRANGE', kq .. host, 0, 0, 'WITHSCORES')
      if #head > 0 then
        redis.call('ZADD', kready, str[math.max(tonumber(head[2]), clock, hold)], host)
      end
    end
  end
  for name, n in pairs(counts) do
    if n > 0 then redis.call('HINCRBY', p .. 'n', name, n) end
  end
  out[2] = first_ready(p)
  return out
end

-- sp_decide(p; buckets, lease, host, status): takes a dispatched URL out
-- of the crawl without a fetch (robots.txt disallows it); its host's clock
-- goes back to what it was, since nothing was requested. Lease-guarded.
local function sp_decide(keys, args)
  local p, buckets = keys[1], tonumber(args[1])
  local l = leased(p, args[3], args[2])
  if not l or l.kind ~= 'u' then return { 0 } end
  end_lease(p, l)
  local now = now_ms()
  local e = parse_entry(l.entry, l.host)
  -- Nothing was requested: the host may go again from when it was
  -- dispatched (it was due then).
  redis.call('HSET', p .. 'clock', l.host, num(l.at))
  settle(p, buckets, l, e, FAILED, tonumber(args[4]), e.attempts, e.level, nil, nil, now, tonumber(args[4]), strs())
  redis.call('HINCRBY', p .. 'n', 'disallowed', 1)
  rescore(p, l.host)
  return { 1, now, first_ready(p) }
end

-- requeue ends lease l without a result: its URL goes first in its queue
-- again. Returns the URL (a robots.txt's, for one).
local function requeue(p, l, now, unsent)
  end_lease(p, l)
  if unsent then
    -- Never sent, so no request was made: the clock goes back to the
    -- dispatch (the host was ready then, and nothing else moves a clock
    -- while its host has a lease out).
    redis.call('HSET', p .. 'clock', l.host, l.at)
  else
    -- Its URL may be being fetched right now (a worker that lost contact,
    -- or one whose heartbeat came late): the host's next request waits a
    -- whole delay from now, as after a request.
    raise(p .. 'clock', l.host, after(now) + math.max(l.min_delay, l.crawl_delay))
  end
  local url = ''
  if l.kind == 'u' then
    local e = parse_entry(l.entry, l.host)
    redis.call('ZADD', p .. 'q:' .. l.host, RETURNED, l.entry)
    if e.flags % 2 == 1 then
      redis.call('HINCRBY', p .. 'n', 'scheduled', 1)
    else
      redis.call('HINCRBY', p .. 'n', 'queued', 1)
    end
    url = e.url
  else
    url = l.origin .. '/robots.txt'
  end
  rescore(p, l.host)
  return url
end

-- sp_release(p; lease, host, unsent): a lease handed back or lost; {0}
-- when it is not outstanding, else {1, now, first ready}. unsent ("1"):
-- its URL never left the master.
local function sp_release(keys, args)
  local p = keys[1]
  local now = now_ms()
  local l = leased(p, args[2], args[1])
  if not l then return { 0 } end
  requeue(p, l, now, args[3] == '1')
  return { 1, now, first_ready(p) }
end

-- sp_reclaim(p; epoch, max, then the masters alive): queues again the
-- URLs whose lease expired, and, when masters are named, those leased by
-- a master not among them (it died: nobody will apply their results).
-- Fenced. Returns {now, first ready, then lease, url for each}.
local function sp_reclaim(keys, args)
  local p = keys[1]
  local err = fenced(p, args[1])
  if err then return err end
  local now = now_ms()
  local max = tonumber(args[2])
  local out = { now, -1 }
  local alive
  if #args > 2 then
    alive = {}
    for i = 3, #args do alive[args[i]] = true end
  end
  -- (Every lease in flight is looked at: one per host, about a second
  -- apart, which costs less than keeping their expiries in order.)
  local all, n = redis.call('HGETALL', p .. 'busy'), 0
  for i = 1, #all, 2 do
    local l = parse_lease(all[i + 1], all[i])
    if l and n < max and (l.expires <= now or (alive and not alive[l.master])) then
      n = n + 1
      out[#out + 1] = l.id
      out[#out + 1] = requeue(p, l, now, false)
    end
  end
  out[2] = first_ready(p)
  return out
end

-- sp_robots(p; lease, host, rules, expires_offset, retry_offset or -1,
-- crawl_delay_ms, wait_offset, hold_offset or -1): the result of an
-- origin's robots.txt: its rules, their expiry, the host's clock.
-- Lease-guarded: {0} when it is not outstanding, else {1, now, first ready}.
local function sp_robots(keys, args)
  local p = keys[1]
  local l = leased(p, args[2], args[1])
  if not l or l.kind ~= 'r' then return { 0 } end
  end_lease(p, l)
  local now = now_ms()
  local retry = 0
  if tonumber(args[5]) >= 0 then retry = now + tonumber(args[5]) end
  redis.call('HSET', p .. 'robots', l.origin, args[3])
  redis.call('HSET', p .. 'rtime', l.origin, num(now + tonumber(args[4])) .. ' ' .. num(retry) .. ' ' .. args[6])
  raise(p .. 'clock', l.host, after(now) + tonumber(args[7]))
  if tonumber(args[8]) >= 0 then raise(p .. 'hold', l.host, after(now) + tonumber(args[8])) end
  rescore(p, l.host)
  return { 1, now, first_ready(p) }
end

-- sp_hostctl(p; host, delay_ms (-1: back to the default, -2: unchanged),
-- block_offset (-1: none)): an operator's delay and block for a host.
local function sp_hostctl(keys, args)
  local p, host = keys[1], args[1]
  local now = now_ms()
  local d = tonumber(args[2])
  if d >= 0 then redis.call('HSET', p .. 'delay', host, num(d))
  elseif d == -1 then redis.call('HDEL', p .. 'delay', host) end
  if tonumber(args[3]) >= 0 then
    local until_ms = now + tonumber(args[3])
    raise(p .. 'hold', host, until_ms)
    raise(p .. 'block', host, until_ms)
    raise(p .. 'clock', host, until_ms)
  end
  rescore(p, host)
  return { 1, now, first_ready(p) }
end

-- sp_blocked(p): how many hosts with URLs are held beyond politeness now
-- (Retry-After, an operator's block, a robots.txt being retried); holds
-- that are over are forgotten. (The counts are read with plain commands.)
local function sp_blocked(keys, args)
  local p = keys[1]
  local now = now_ms()
  local held, all = 0, redis.call('HGETALL', p .. 'hold')
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) > now then
      if redis.call('EXISTS', p .. 'q:' .. all[i]) == 1 then held = held + 1 end
    else
      redis.call('HDEL', p .. 'hold', all[i]) -- past: forgotten
      redis.call('HDEL', p .. 'block', all[i])
    end
  end
  return held
end

-- sp_claim(p; master, ttl_ms): takes the partition when nobody holds it
-- (a new epoch) or renews it when this master does. Returns {epoch, 1}
-- when the master holds it, {epoch, 0, owner} when another does.
local function sp_claim(keys, args)
  local p, master, ttl = keys[1], args[1], tonumber(args[2])
  local owner = redis.call('GET', p .. 'owner')
  if owner then
    local who, epoch = owner:match('^(.*) (%d+)$')
    if who == master then
      redis.call('PEXPIRE', p .. 'owner', ttl)
      return { tonumber(epoch), 1 }
    end
    return { tonumber(epoch), 0, who }
  end
  local epoch = redis.call('INCR', p .. 'epoch')
  redis.call('SET', p .. 'owner', master .. ' ' .. epoch, 'PX', ttl)
  return { epoch, 1 }
end

-- sp_unclaim(p; master, epoch): hands the partition back (compare and
-- delete).
local function sp_unclaim(keys, args)
  local p = keys[1]
  if redis.call('GET', p .. 'owner') == args[1] .. ' ' .. args[2] then
    redis.call('DEL', p .. 'owner')
    return 1
  end
  return 0
end

-- sp_alive(c; master, ttl_ms, endpoints): the master's heartbeat in the
-- crawl's directory (c = "<crawl>:{ctl}:"); returns {now, then master,
-- endpoints for each master alive}.
local function sp_alive(keys, args)
  local c = keys[1]
  local now = now_ms()
  if args[1] ~= '' then
    if tonumber(args[2]) > 0 then
      redis.call('ZADD', c .. 'alive', now + tonumber(args[2]), args[1])
      redis.call('HSET', c .. 'masters', args[1], args[3])
    else
      redis.call('ZREM', c .. 'alive', args[1])
      redis.call('HDEL', c .. 'masters', args[1])
    end
  end
  for _, m in ipairs(redis.call('ZRANGE', c .. 'alive', '-inf', now, 'BYSCORE')) do
    redis.call('ZREM', c .. 'alive', m)
    redis.call('HDEL', c .. 'masters', m)
  end
  local out = { now }
  for _, m in ipairs(redis.call('ZRANGE', c .. 'alive', 0, -1)) do
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGET', c .. 'masters', m) or ''
  end
  return out
end

-- sp_import(p; buckets, then host, entry, record, queue for each URL): a
-- URL of a crawl migrated from another store (spyder frontier migrate,
-- before any master runs): its seen-set record ("" when never fetched)
-- and, unless queue is "", its queue entry: "r" returned (first), "n"
-- new (in the order of its admission), else the ms it is due. A URL
-- seen already is left as it is. Returns the URLs added.
local function sp_import(keys, args)
  local p, buckets = keys[1], tonumber(args[1])
  local n, touched = { seen = 0, queued = 0, scheduled = 0 }, {}
  for i = 2, #args, 4 do
    local host, m, rec, q = args[i], args[i + 1], args[i + 2], args[i + 3]
    local bucket, field = seen(p, m:sub(1, 14), buckets)
    if redis.call('HSETNX', bucket, field, rec) == 1 then
      n.seen = n.seen + 1
      if q ~= '' then
        local score
        if q == 'r' then score = RETURNED
        elseif q == 'n' then score = u32(m, 20) * 1000 - NEW_BASE
        else score = tonumber(q) end
        redis.call('ZADD', p .. 'q:' .. host, score, m)
        if m:byte(15) % 2 == 1 then n.scheduled = n.scheduled + 1 else n.queued = n.queued + 1 end
        touched[host] = true
      end
    end
  end
  for host in pairs(touched) do rescore(p, host) end
  for name, c in pairs(n) do
    if c > 0 then redis.call('HINCRBY', p .. 'n', name, c) end
  end
  return n.seen
end

-- ADVANCE_WINDOW is how far from its computed due time (ms) sp_advance
-- looks for a revisit's queue entry: the entry was queued when its result
-- was committed, a turn after the result's event, on a master's estimate
-- of this clock.
local ADVANCE_WINDOW = 60000

-- last_result is the time (ms) of a history's latest result event; nil
-- for none.
local function last_result(history)
  local last
  for kind, at in history:gmatch('(%d+),%d+,(%-?%d+),%-?%d+;') do
    if tonumber(kind) == EV_RESULT then last = tonumber(at) end
  end
  return last
end

-- sp_advance(p; buckets, crawl_delta_ms, then per URL: host, fp, changed
-- ms): a URL scheduled for a revisit whose last result came before its
-- site says it changed (a sitemap's <lastmod>) is due now; its host is
-- rescored. Its entry is found by its due time, the last result plus
-- crawl_delta x level (as the policy scheduled it), and its fingerprint.
-- Returns {moved, now, first ready}.
local function sp_advance(keys, args)
  local p = keys[1]
  local now = now_ms()
  local buckets, delta = tonumber(args[1]), tonumber(args[2])
  local bks = seen_keys(p, buckets)
  local moved = 0
  for i = 3, #args, 3 do
    local host, fp, changed = args[i], args[i + 1], tonumber(args[i + 2])
    local r = parse_record(redis.call('HGET', bks[(fp:byte(1) * 256 + fp:byte(2)) % buckets], fp:sub(3, 14)))
    local last = r and r.state == SCHEDULED and last_result(r.history)
    if last and last < changed then
      local due, kq = last + delta * r.level, p .. 'q:' .. host
      local near = redis.call('ZRANGEBYSCORE', kq, due - ADVANCE_WINDOW, due + ADVANCE_WINDOW, 'WITHSCORES')
      for j = 1, #near, 2 do
        if near[j]:sub(1, 14) == fp then
          if tonumber(near[j + 1]) > now then
            redis.call('ZADD', kq, now, near[j])
            rescore(p, host)
            moved = moved + 1
          end
          break
        end
      end
    end
  end
  return { moved, now, first_ready(p) }
end

-- sp_hosts(p; start, count, n): the dashboard's look at a window of a
-- partition's waiting hosts (ranks start .. start+count-1 of ready): how
-- many the window held, then its n hosts with the most URLs queued, most
-- first, each as host, URLs queued, politeness clock (0: none). It reads
-- only; done here, the size of each queue costs Redis a call inside the
-- function rather than a command from the master.
local function sp_hosts(keys, args)
  local p = keys[1]
  local start, count, n = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
  local hosts = redis.call('ZRANGE', p .. 'ready', start, start + count - 1)
  local top, sizes = {}, {} -- top: hosts by size, most first (at most n)
  for _, host in ipairs(hosts) do
    local size = redis.call('ZCARD', p .. 'q:' .. host)
    if size > 0 and (#top < n or size > sizes[top[#top]]) then
      sizes[host] = size
      local i = #top + 1
      while i > 1 and sizes[top[i - 1]] < size do
        top[i] = top[i - 1]
        i = i - 1
      end
      top[i] = host
      if #top > n then
        sizes[top[#top]] = nil
        top[#top] = nil
      end
    end
  end
  local out = { #hosts }
  for _, host in ipairs(top) do
    out[#out + 1] = host
    out[#out + 1] = sizes[host]
    out[#out + 1] = tonumber(redis.call('HGET', p .. 'clock', host) or 0)
  end
  return out
end

redis.register_function('sp_add', sp_add)
redis.register_function('sp_advance', sp_advance)
redis.register_function('sp_dispatch', sp_dispatch)
redis.register_function{ function_name = 'sp_lease', callback = sp_lease, flags = { 'no-writes' } }
redis.register_function('sp_complete', sp_complete)
redis.register_function('sp_decide', sp_decide)
redis.register_function('sp_release', sp_release)
redis.register_function('sp_reclaim', sp_reclaim)
redis.register_function('sp_robots', sp_robots)
redis.register_function('sp_hostctl', sp_hostctl)
redis.register_function('sp_blocked', sp_blocked)
redis.register_function{ function_name = 'sp_hosts', callback = sp_hosts, flags = { 'no-writes' } }
redis.register_function('sp_claim', sp_claim)
redis.register_function('sp_unclaim', sp_unclaim)
redis.register_function('sp_alive', sp_alive)
redis.register_function('sp_import', sp_import)
