'use strict';
// Plain old JavaScript on purpose: it must run, and say what to do, on the Node versions it refuses.
// bin/drover.js and stack/dev.ts load it before anything else; .npmrc's engine-strict stops
// `npm ci` and `npx drover` earlier, before anything is downloaded.

var REQUIRED_MAJOR = 24;

/** The one line to print for `version` (e.g. 'v20.20.2'), or null when it is new enough. */
function problem(version, execPath) {
  var major = Number(String(version).replace(/^v/, '').split('.')[0]);
  if (major >= REQUIRED_MAJOR) return null;
  return (
    'drover needs Node.js ' +
    REQUIRED_MAJOR +
    ' or newer; this is ' +
    version +
    (execPath ? ' (' + execPath + ')' : '') +
    '. Install Node ' +
    REQUIRED_MAJOR +
    ' LTS (https://nodejs.org/en/download, or `nvm install ' +
    REQUIRED_MAJOR +
    '`) and run npm ci again.'
  );
}

module.exports = { problem: problem, REQUIRED_MAJOR: REQUIRED_MAJOR };

var message = problem(process.version, process.execPath);
if (message) {
  process.stderr.write(message + '\n');
  process.exit(1);
}
