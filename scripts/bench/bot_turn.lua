-- wrk script for scripts/bench_bot_turn.sh: customer messages to pre-created conversations,
-- one bot turn each (POST /v1/conversations/{id}/messages with the customer's bearer token).
--
--   BENCH_CONVERSATIONS_FILE=convs.txt BENCH_THREADS=2 \
--     wrk -t2 -c64 -d20s --latency -s scripts/bench/bot_turn.lua http://127.0.0.1:PORT
--
-- Environment:
--   BENCH_CONVERSATIONS_FILE  lines "conversation_id token" (required)
--   BENCH_THREADS             wrk's -t (default 2): thread k takes lines k, k+T, k+2T, ...
--   BENCH_MESSAGES_PER_CONVERSATION  (default 10, at most 10: the questions of one
--                             conversation must name distinct articles, see below)
--   BENCH_WINDOW              conversations a thread talks to at once (default 128, more than
--                             its connections, so one conversation has one message in flight)
--   BENCH_RUN                 prefix of every client_message_id (default "run")
--
-- Each thread walks its own slice of conversations in windows of BENCH_WINDOW: request n goes
-- to conversation (n mod window) of the current window and is that conversation's message
-- floor(n / window); after BENCH_MESSAGES_PER_CONVERSATION rounds the next window starts. A
-- conversation gets BENCH_MESSAGES_PER_CONVERSATION consecutive questions of the list below
-- (cyclically, starting at its line number), so no conversation asks the same thing twice. If
-- a thread runs out of conversations it starts over (counted as "wrapped": the messages then
-- repeat questions and may hit rate limits or handoffs; give the script more conversations).
--
-- Every question names a different article of the demo knowledge base (the id beside it, for
-- the check pass of bench_client.py, which reads this table), and none asks for a person,
-- complains, or asks for something only a person may do, so the gateway's bot answers each
-- and does not hand off within one conversation. Each client_message_id is unique:
-- BENCH_RUN-thread-counter.

questions = {
  {"kb-zh-shipping-1", "亲，什么时候发货呀"},
  {"kb-zh-product-1", "我身高165体重55穿什么码"},
  {"kb-zh-product-3", "这款还有货吗"},
  {"kb-en-order-1", "Where is my parcel?"},
  {"kb-zh-product-4", "你们家东西是正品吗"},
  {"kb-zh-product-5", "耳机保修多久"},
  {"kb-zh-product-6", "这件衣服能机洗吗"},
  {"kb-zh-order-1", "帮我查一下快递到哪了"},
  {"kb-en-shipping-1", "How many days for delivery?"},
  {"kb-zh-order-2", "物流好几天都没更新了"},
  {"kb-zh-shipping-2", "你们发什么快递"},
  {"kb-zh-shipping-3", "满多少包邮"},
  {"kb-zh-shipping-4", "新疆能发货吗"},
  {"kb-en-refund-1", "Can I return it if I don't like it?"},
  {"kb-zh-shipping-5", "寄到北京一般几天能到"},
  {"kb-zh-change-1", "收货地址填错了怎么改"},
  {"kb-zh-change-3", "我拍了两单能一起发吗"},
  {"kb-zh-cancel-1", "不想要了能取消订单吗"},
  {"kb-en-payment-1", "Can I pay with PayPal?"},
  {"kb-zh-refund-1", "支持七天无理由退货吗"},
  {"kb-zh-refund-2", "退货流程是什么"},
  {"kb-zh-refund-3", "退款什么时候到账"},
  {"kb-zh-refund-4", "退货运费谁出"},
  {"kb-en-invoice-1", "Can I get an invoice for my order?"},
  {"kb-zh-payment-1", "可以用微信支付吗"},
  {"kb-zh-payment-2", "能用花呗分期吗"},
  {"kb-zh-invoice-1", "可以开电子发票吗"},
  {"kb-zh-invoice-2", "公司报销能开专票吗"},
  {"kb-en-promotion-1", "Any coupons available?"},
  {"kb-zh-promotion-1", "有没有优惠券可以领"},
  {"kb-zh-promotion-3", "刚买就降价了能退差价吗"},
  {"kb-zh-promotion-4", "两张优惠券能一起用吗"},
  {"kb-zh-promotion-9", "积分能抵钱吗"},
  {"kb-en-product-4", "Are your products genuine?"},
  {"kb-zh-product-7", "蓝牙耳机安卓手机能用吗"},
  {"kb-zh-product-8", "充电宝能带上飞机吗"},
  {"kb-zh-product-10", "实物跟图片有色差吗"},
  {"kb-zh-other-1", "客服周末上班吗"},
  {"kb-en-other-2", "Do you have a physical store?"},
  {"kb-zh-other-2", "你们有实体店吗"},
  {"kb-zh-shipping-7", "过年期间还发货吗"},
  {"kb-zh-refund-10", "吊牌剪了还能退吗"},
  {"kb-zh-invoice-4", "电子发票在哪里看"},
  {"kb-en-shipping-3", "Do you ship to the US?"},
  {"kb-zh-promotion-10", "怎么成为会员"},
  {"kb-zh-product-12", "手表充满电能用几天"},
  {"kb-en-refund-2", "How long does a refund take?"},
}

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_CONVERSATIONS_FILE")
  if not path then
    error("BENCH_CONVERSATIONS_FILE is not set")
  end
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  per = tonumber(os.getenv("BENCH_MESSAGES_PER_CONVERSATION") or "10")
  if per > 10 or per > #questions then
    error("BENCH_MESSAGES_PER_CONVERSATION must be at most 10")
  end
  run = os.getenv("BENCH_RUN") or "run"
  convs = {}
  local line_no = 0
  for line in io.lines(path) do
    local id, token = line:match("^(%S+)%s+(%S+)")
    if id then
      if line_no % nthreads == tid then
        table.insert(convs, {
          line = line_no,
          path = "/v1/conversations/" .. id .. "/messages",
          headers = {
            ["Content-Type"] = "application/json",
            ["Authorization"] = "Bearer " .. token,
          },
        })
      end
      line_no = line_no + 1
    end
  end
  if #convs == 0 then
    error("thread " .. tid .. " has no conversations in " .. path)
  end
  window = math.min(tonumber(os.getenv("BENCH_WINDOW") or "128"), #convs)
  n = 0
  non2xx = 0
  with_reply = 0
  answered = 0
  responses = 0
  wrapped = 0
  statuses = {}
end

function request()
  local block = window * per
  local r = n % block
  local c = math.floor(n / block) * window + (r % window)
  local m = math.floor(r / window)
  if c >= #convs then
    wrapped = wrapped + 1
    c = c % #convs
  end
  local conv = convs[c + 1]
  local q = questions[((conv.line + m) % #questions) + 1][2]
  local body = '{"text":"' .. q .. '","client_message_id":"' .. run .. "-" .. tid .. "-" .. n .. '"}'
  n = n + 1
  return wrk.format("POST", conv.path, conv.headers, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  elseif body and body:find('"replies":[{', 1, true) then
    with_reply = with_reply + 1
    if body:find('"decision":"answer"', 1, true) then
      answered = answered + 1
    end
  end
end

function done(summary, latency, requests)
  local totals = { non2xx = 0, with_reply = 0, answered = 0, responses = 0, wrapped = 0, sent = 0 }
  local codes = {}
  for _, thread in ipairs(threads) do
    totals.non2xx = totals.non2xx + thread:get("non2xx")
    totals.with_reply = totals.with_reply + thread:get("with_reply")
    totals.answered = totals.answered + thread:get("answered")
    totals.responses = totals.responses + thread:get("responses")
    totals.wrapped = totals.wrapped + thread:get("wrapped")
    totals.sent = totals.sent + thread:get("n")
    for code, count in pairs(thread:get("statuses") or {}) do
      codes[code] = (codes[code] or 0) + count
    end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      .. "non2xx=%d with_reply=%d answered=%d lua_responses=%d sent=%d wrapped=%d "
      .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    totals.non2xx, totals.with_reply, totals.answered, totals.responses, totals.sent, totals.wrapped,
    e.connect, e.read, e.write, e.timeout, e.status))
  if totals.non2xx > 0 then
    local parts = {}
    for code, count in pairs(codes) do
      table.insert(parts, code .. "x" .. count)
    end
    io.write("BENCH non-2xx statuses: " .. table.concat(parts, " ") .. "\n")
  end
  if totals.wrapped > 0 then
    io.write("BENCH WARNING: " .. totals.wrapped .. " requests reused a conversation; "
      .. "raise BENCH_CONVERSATIONS\n")
  end
end
