-- wrk script: GET the static GIF, the same shape of load as post_event.lua.
request = function()
  return wrk.format("GET", "/b.gif")
end
