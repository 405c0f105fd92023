#!/bin/sh
echo "$GREETING from $APP_HOME"
exec httpd -f -p 8080 -h "$APP_HOME/www"
