-- wrk script: POST /edge/validate with one token, the secret in $TOKEN.
--   TOKEN=<secret> wrk -t1 -c16 -d10s -s docs/bench/edge_validate.lua http://127.0.0.1:4242/edge/validate
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tokens":["' .. os.getenv("TOKEN") .. '"]}'
