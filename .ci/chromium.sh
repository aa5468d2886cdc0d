# Sourced by .ci/run: install Debian's Chromium if missing, for the test that opens
# output/report.html in a headless browser (tests/test_report.py; under CI it fails without one).

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "Chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'not installed')"
