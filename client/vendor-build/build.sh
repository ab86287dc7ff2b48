#!/bin/sh
# Builds ../vendor/ts-mls.js, one browser ES module, from the versions that
# package-lock.json pins. Only needed to change the vendored bundle: serving
# epchat, and its Go tests, need no Node.js.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
mkdir -p ../vendor
npx esbuild entry.js --bundle --format=esm --platform=browser --target=chrome120 \
  --minify --legal-comments=eof \
  --external:@noble/curves/* --external:@noble/post-quantum/* \
  --external:@hpke/chacha20poly1305 --external:@hpke/ml-kem \
  --external:@hpke/hybridkem-x-wing --external:@hpke/dhkem-x448 \
  --outfile=../vendor/ts-mls.js
ls -l ../vendor/ts-mls.js
# The bundle's licences (all MIT), with the versions the lockfile pinned.
{
  echo "client/vendor/ts-mls.js bundles these packages (npm), built by"
  echo "client/vendor-build/build.sh with esbuild $(npx esbuild --version):"
  echo
  for p in ts-mls @hpke/core @hpke/common @noble/ciphers; do
    node -e "const j=require('./node_modules/$p/package.json');console.log('- '+j.name+' '+j.version+', licence '+j.license)"
  done
  echo
  echo "@hpke/common and @noble/ciphers carry code of noble-curves and noble-hashes"
  echo "(MIT, Paul Miller); the bundle keeps their notices at its end."
  for p in ts-mls @hpke/core @hpke/common @noble/ciphers; do
    echo; echo "=== $p"; echo
    cat node_modules/$p/LICENSE*
  done
} > ../vendor/LICENSES.txt
