# Sourced by .ci/run: install Debian's Chromium if missing, for the test that opens
# output/report.html in a headless browser (tests/test_report.py; under CI it fails without one),
# and a font with Hangul (Noto Sans CJK KR), which the report and its charts name.

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! fc-list :lang=ko family 2>/dev/null | grep -q "Noto Sans CJK KR"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
fi
echo "Chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'not installed')"
echo "Korean fonts: $(fc-list :lang=ko family 2>/dev/null | wc -l) families"
