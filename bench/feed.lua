-- Request generator for bench/run.sh (wrk -s bench/feed.lua ... -- ARGS). Figures only, never a test.
--
-- ARGS: HOST NTHREADS LIMIT DONEFILE SOURCE...
--   LIMIT   requests each thread sends before it stops (0: until wrk's -d ends)
--   DONEFILE  "-", or a path: thread i creates DONEFILE.i when it stops early, so
--           bench/run.sh can end wrk with SIGINT (wrk waits out -d otherwise)
--   SOURCE  where the next request's token comes from; with several SOURCEs the
--           requests take them in turn (the memory check's mix):
--     repeat,PATH,FILE                   the token in FILE, on every request
--     walk,PATH,FILE,RECLEN,START,END    records START..END-1 of FILE (RECLEN bytes
--                                        each, newline included), each sent once;
--                                        thread i walks its own slice, so no
--                                        token is sent twice; when the slice runs
--                                        out the thread stops (never wraps)
--     garbage,PATH,LEN,NONCE             a new LEN-byte non-JWT string per request:
--                                        NONCE, a counter, random base64url filler
--     none,PATH                          no Authorization header
--
-- Every request is built as wrk builds one from -H, so the request bytes of a
-- case differ from the baseline's only in the token:
--   GET PATH HTTP/1.1\r\nHost: HOST\r\nAuthorization: Bearer TOKEN\r\n\r\n
-- done() prints one "FEED ..." line that bench/run.sh reads: per SOURCE the next
-- unused record (walk) or the tokens handed out, whether a slice ran out, and
-- how long the threads ran (wrk's own Requests/sec divides by -d even when a
-- thread stopped early).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } m2m_timespec;
int clock_gettime(int clk, m2m_timespec *tp);
]]
local ts = ffi.new("m2m_timespec")
local function now_us()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- setup/done run in wrk's main Lua state; init/request in each thread's.
local threads = {}
function setup(thread)
    thread:set("id", #threads)
    threads[#threads + 1] = thread
end

local sources, cur, limit, stopreq, donefile
-- globals read back by done() through thread:get()
handed, nexts, exhausted, sent, t_first, t_last = {}, {}, 0, 0, 0, 0

local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

function init(args)
    local host, nthreads = args[1], tonumber(args[2])
    limit, donefile = tonumber(args[3]), args[4]
    stopreq = "GET /open/ok.txt HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
    math.randomseed(os.time() + 7919 * id)
    sources, cur = {}, 1
    for i = 5, #args do
        local f = {}
        for field in string.gmatch(args[i], "[^,]+") do f[#f + 1] = field end
        local s = { kind = f[1],
                    pre = "GET " .. f[2] .. " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " }
        if s.kind == "repeat" then
            local fh = assert(io.open(f[3], "rb"))
            s.req = s.pre .. fh:read("*l") .. "\r\n\r\n"
            fh:close()
        elseif s.kind == "walk" then
            s.reclen = tonumber(f[4])
            local lo, hi = tonumber(f[5]), tonumber(f[6])
            local per = math.floor((hi - lo) / nthreads)
            s.next = lo + id * per
            s.hi = s.next + per
            s.fh = assert(io.open(f[3], "rb"))
            s.fh:seek("set", s.next * s.reclen)
        elseif s.kind == "garbage" then
            local len, filler = tonumber(f[3]), {}
            s.nonce, s.count, s.step = f[4], id, nthreads
            for _ = 1, len - #s.nonce - 12 do
                local k = math.random(1, 64)
                filler[#filler + 1] = b64:sub(k, k)
            end
            s.filler = table.concat(filler)
        elseif s.kind == "none" then
            s.req = "GET " .. f[2] .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
        else
            error("feed.lua: unknown source " .. args[i])
        end
        sources[#sources + 1] = s
        handed[#sources] = 0
        nexts[#sources] = s.next or 0
    end
end

local stopped = false
local function stop()
    if stopped then return stopreq end
    stopped = true
    t_last = now_us()
    if donefile ~= "-" then
        local fh = io.open(donefile .. "." .. id, "w")
        if fh then fh:close() end
    end
    wrk.thread:stop()
    return stopreq
end

function request()
    if sent == 0 then t_first = now_us() end
    if limit > 0 and sent >= limit then return stop() end
    local i = cur
    local s = sources[i]
    cur = i % #sources + 1
    local req
    if s.kind == "walk" then
        if s.next >= s.hi then
            exhausted = 1 -- never wrap: a token is sent at most once
            return stop()
        end
        local rec = s.fh:read(s.reclen)
        req = s.pre .. rec:sub(1, s.reclen - 1) .. "\r\n\r\n"
        s.next = s.next + 1
        nexts[i] = s.next
    elseif s.kind == "garbage" then
        req = s.pre .. s.nonce .. string.format("%012d", s.count) .. s.filler .. "\r\n\r\n"
        s.count = s.count + s.step
    else
        req = s.req
    end
    handed[i] = handed[i] + 1
    sent = sent + 1
    t_last = now_us()
    return req
end

function done(summary, latency, requests)
    local nsrc = #threads[1]:get("handed")
    local out, first, last, ran_out = {}, nil, 0, 0
    for j = 1, nsrc do
        local n, nx = 0, 0
        for _, t in ipairs(threads) do
            n = n + t:get("handed")[j]
            nx = math.max(nx, t:get("nexts")[j])
        end
        out[#out + 1] = string.format("src%d=%d:%d", j, n, nx)
    end
    for _, t in ipairs(threads) do
        ran_out = ran_out + t:get("exhausted")
        local a, b = t:get("t_first"), t:get("t_last")
        if a > 0 and (first == nil or a < first) then first = a end
        if b > last then last = b end
    end
    io.write(string.format("FEED %s exhausted=%d elapsed_us=%.0f requests=%d\n",
        table.concat(out, " "), ran_out, first and (last - first) or 0, summary.requests))
end
