'use strict';
// Verifying a scheduler0 callback, with Node's crypto only (index.js uses it; so can any
// receiver).
//
// Every callback carries X-Scheduler0-Timestamp and X-Scheduler0-Signature: "sha256=" and the
// hex HMAC-SHA256, keyed with the project's signing secret, of the timestamp, a dot and the raw
// body. For a grace period after the secret is rotated (PUT /projects/{id}
// {"rotate_signing_secret": true}), it also carries X-Scheduler0-Signature-Previous, the same
// HMAC keyed with the secret the rotation replaced. So a receiver accepts a callback when either
// header matches one of the secrets it holds: during the grace period, one that still has only
// the old secret and one that already has only the new one both accept every callback, and the
// receiver can be switched at any time within it.

const crypto = require('crypto');

const MAX_SKEW_SECONDS = 300; // refuse callbacks whose timestamp is further off than this
const SIGNATURE_HEADERS = ['X-Scheduler0-Signature', 'X-Scheduler0-Signature-Previous'];

function expectedSignature(secret, timestamp, rawBody) {
  const mac = crypto.createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(rawBody);
  return `sha256=${mac.digest('hex')}`;
}

function signatureMatches(secret, timestamp, rawBody, header) {
  const expected = Buffer.from(expectedSignature(secret, timestamp, rawBody));
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// The name of the header whose signature one of `secrets` verifies, or null when none does or
// the timestamp is missing or stale. `getHeader(name)` reads a request header (express:
// req.get); `rawBody` is the body exactly as received (a Buffer).
function verifiedBy(secrets, getHeader, rawBody, nowSeconds = Date.now() / 1000) {
  const timestamp = getHeader('X-Scheduler0-Timestamp');
  if (!timestamp || !/^\d+$/.test(timestamp)) return null;
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return null;
  for (const name of SIGNATURE_HEADERS) {
    const header = getHeader(name);
    if (!header) continue;
    if (secrets.some((secret) => secret && signatureMatches(secret, timestamp, rawBody, header))) {
      return name;
    }
  }
  return null;
}

module.exports = { MAX_SKEW_SECONDS, SIGNATURE_HEADERS, expectedSignature, verifiedBy };
