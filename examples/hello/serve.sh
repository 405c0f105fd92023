#!/bin/sh
# PID 1 ignores SIGTERM unless it handles it: without this trap every redeploy would wait out
# the pod's whole grace period before the old pod goes away.
trap 'kill $httpd 2>/dev/null; exit 0' TERM INT
echo "hello: serving /www on :8080 ($(cat /www/version.txt 2>/dev/null))"
httpd -f -p 8080 -h /www &
httpd=$!
while true; do sleep 10 & wait $!; echo "hello: still serving"; done
