#!/bin/sh
# Log a line now and then so the dashboard's log pane has something to show.
echo "hello: serving /www on :8080 ($(cat /www/version.txt 2>/dev/null))"
httpd -f -p 8080 -h /www &
while true; do sleep 10; echo "hello: still serving"; done
