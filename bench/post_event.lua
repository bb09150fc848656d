-- wrk script: POST one event per request, each with its own visitor id.
local counter = 0

request = function()
  counter = counter + 1
  local body = string.format(
    '{"type":"page_view","visitor":"v-%d-%d","properties":' ..
    '{"url":"https://example.gov/recalls/cribs","n":%d}}',
    math.random(1, 1000000), counter, counter)
  return wrk.format("POST", "/v1/events",
                    {["Content-Type"] = "application/json"}, body)
end
