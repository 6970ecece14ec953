#!/usr/bin/env node
// Test-only S3 front for etcd-dr's integration tests. It listens on
// 127.0.0.1, checks every request's AWS Signature Version 4 the way S3 does
// (access key, signature, clock skew, payload hash), implements what s3rver
// 3.7.1 lacks (AbortMultipartUpload, ListMultipartUploads, part ETag and size
// checks at CompleteMultipartUpload, conditional PUT with If-None-Match: * and
// If-Match) and forwards everything else, unauthenticated, to s3rver. A fault
// mode answers chosen requests with 500, 503 SlowDown, a cut connection or a
// truncated body, cuts the connection after doing the request upstream (the
// answer is "lost"), or never answers ("stall", to hold a client mid-upload while
// the test kills the servers), so that clients' retries and crashes can be tested.
// With --s3rver-dir the open multipart uploads are read back from s3rver's
// directory at start, so a front restarted after a crash still lists and aborts
// them. --log FILE (or S3FRONT_LOG) appends one line per request:
// "METHOD URL STATUS" (STATUS is a number, or reset/stall for injected faults).
// --tls-cert/--tls-key serve HTTPS instead of HTTP. Virtual-hosted requests
// (Host: BUCKET.<--vhost-domain, default s3.localhost>) are checked as signed
// and forwarded to s3rver path-style.
//
// Usage: node front.js --port P --upstream http://127.0.0.1:Q [--access-key test]
//        [--region us-east-1] [--s3rver-dir DIR] [--min-part-size BYTES]
//        [--max-skew SECONDS] [--no-conditional] [--fault-first N] [--fault-rate R]
//        [--fault-kind 500|503|reset|truncate|lost|stall] [--fault-match REGEX] [--log FILE]
//        [--tls-cert PEM --tls-key PEM] [--vhost-domain DOMAIN]
// The secret key comes from the environment (S3FRONT_SECRET_KEY, default
// "testsecret"), the optional session token from S3FRONT_SESSION_TOKEN.
// Test hooks (unsigned, loopback only): POST /__front/faults?first=N&rate=R&kind=K&match=RE
// changes the fault settings (also conditional=0|1 to ignore conditional headers like
// older servers, clock_offset=SECONDS to skew the server clock, min_part=BYTES),
// GET /__front/stats returns counters as JSON.
'use strict';

const http = require('http');
const https = require('https');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
    const o = {
        port: 0, upstream: null, accessKey: 'test', region: 'us-east-1', s3rverDir: null,
        minPartSize: 5 * 1024 * 1024, maxSkew: 900, conditional: true, clockOffset: 0,
        faultFirst: 0, faultRate: 0, faultKind: '503', faultMatch: null,
        log: process.env.S3FRONT_LOG || null, tlsCert: null, tlsKey: null,
        vhostDomain: 's3.localhost',
    };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const v = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        switch (a) {
        case '--port': o.port = Number(v()); break;
        case '--upstream': o.upstream = new URL(v()); break;
        case '--access-key': o.accessKey = v(); break;
        case '--region': o.region = v(); break;
        case '--s3rver-dir': o.s3rverDir = v(); break;
        case '--min-part-size': o.minPartSize = Number(v()); break;
        case '--max-skew': o.maxSkew = Number(v()); break;
        case '--no-conditional': o.conditional = false; break;
        case '--fault-first': o.faultFirst = Number(v()); break;
        case '--fault-rate': o.faultRate = Number(v()); break;
        case '--fault-kind': o.faultKind = v(); break;
        case '--fault-match': o.faultMatch = new RegExp(v()); break;
        case '--log': o.log = v(); break;
        case '--tls-cert': o.tlsCert = v(); break;
        case '--tls-key': o.tlsKey = v(); break;
        case '--vhost-domain': o.vhostDomain = v(); break;
        default: throw new Error(`unknown option ${a}`);
        }
    }
    if (!o.upstream) throw new Error('--upstream is required');
    return o;
}

const opts = parseArgs(require.main === module ? process.argv
    : ['node', 'front.js', '--upstream', 'http://127.0.0.1:1']);
const secretKey = process.env.S3FRONT_SECRET_KEY || 'testsecret';
const sessionToken = process.env.S3FRONT_SESSION_TOKEN || null;
const stats = { requests: 0, faults: 0, aborts: 0, completes: 0, initiates: 0, parts: 0,
    ranged_gets: 0, conditional_412: 0, auth_errors: 0, virtual_hosted: 0, by_op: {} };
const uploads = new Map(); // uploadId -> {bucket, key, initiated: Date, parts: Map}
let condChain = Promise.resolve(); // serialises conditional writes

// ---- SigV4 ----------------------------------------------------------------

function uriEncode(s, encodeSlash) {
    let out = '';
    for (const b of Buffer.from(s, 'utf8')) {
        const c = String.fromCharCode(b);
        if (/[A-Za-z0-9\-._~]/.test(c) || (c === '/' && !encodeSlash)) out += c;
        else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
}

function decode(s) {
    try {
        return decodeURIComponent(s.replace(/\+/g, '%20'));
    } catch (e) {
        return s;
    }
}

function canonicalQuery(rawQuery) {
    if (!rawQuery) return '';
    const pairs = rawQuery.split('&').filter((p) => p.length).map((p) => {
        const i = p.indexOf('=');
        const k = i < 0 ? p : p.slice(0, i);
        const val = i < 0 ? '' : p.slice(i + 1);
        return [uriEncode(decode(k), true), uriEncode(decode(val), true)];
    });
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return pairs.map((p) => `${p[0]}=${p[1]}`).join('&');
}

function hmac(key, data) {
    return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256hex(data) {
    return crypto.createHash('sha256').update(data).digest('hex');
}

// Returns {canonicalRequest, stringToSign, signature} for the given pieces;
// exported for the self-test against AWS's published vectors.
function sigv4(method, rawPath, rawQuery, headers, signedHeaders, payloadHash, amzDate, scope,
    secret) {
    const canonUri = uriEncode(decode(rawPath), false);
    const canonHeaders = signedHeaders.map((h) => {
        const v = headers[h] === undefined ? '' : String(headers[h]);
        return `${h}:${v.trim().replace(/\s+/g, ' ')}\n`;
    }).join('');
    const canonicalRequest = [method, canonUri, canonicalQuery(rawQuery), canonHeaders,
        signedHeaders.join(';'), payloadHash].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
    const [date, region, service] = scope.split('/');
    let k = hmac('AWS4' + secret, date);
    k = hmac(k, region);
    k = hmac(k, service);
    k = hmac(k, 'aws4_request');
    const signature = crypto.createHmac('sha256', k).update(stringToSign, 'utf8').digest('hex');
    return { canonicalRequest, stringToSign, signature };
}

// ---- responses ------------------------------------------------------------

function xmlEscape(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function sendError(res, status, code, message, extra) {
    let body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
        `<Message>${xmlEscape(message)}</Message>`;
    for (const [k, v] of Object.entries(extra || {})) body += `<${k}>${xmlEscape(v)}</${k}>`;
    body += `<RequestId>${crypto.randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
    res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendXml(res, status, body) {
    res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
}

// ---- request handling -----------------------------------------------------

function authenticate(req, rawPath, rawQuery, body) {
    const auth = req.headers.authorization;
    if (!auth) return [403, 'AccessDenied', 'Access Denied'];
    const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) {
        return [400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.'];
    }
    const cred = m[1].split('/');
    if (cred.length !== 5 || cred[4] !== 'aws4_request' || cred[3] !== 's3') {
        return [400, 'AuthorizationHeaderMalformed',
            'The authorization header is malformed; the Credential is mal-formed.'];
    }
    if (cred[0] !== opts.accessKey) {
        return [403, 'InvalidAccessKeyId',
            'The AWS Access Key Id you provided does not exist in our records.',
            { AWSAccessKeyId: cred[0] }];
    }
    if (cred[2] !== opts.region) {
        return [400, 'AuthorizationHeaderMalformed',
            `The authorization header is malformed; the region '${cred[2]}' is wrong; expecting '${opts.region}'`,
            { Region: opts.region }];
    }
    const amzDate = req.headers['x-amz-date'];
    const dm = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(amzDate || '');
    if (!dm) return [403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header'];
    const t = Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]);
    const now = Date.now() + opts.clockOffset * 1000;
    if (Math.abs(now - t) > opts.maxSkew * 1000) {
        return [403, 'RequestTimeTooSkewed',
            'The difference between the request time and the current time is too large.',
            { RequestTime: amzDate, ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: opts.maxSkew * 1000 }];
    }
    if (cred[1] !== amzDate.slice(0, 8)) {
        return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
    }
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (!payloadHash) {
        return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
    }
    if (payloadHash !== 'UNSIGNED-PAYLOAD') {
        if (!/^[0-9a-f]{64}$/.test(payloadHash)) {
            return [400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.'];
        }
        if (sha256hex(body) !== payloadHash) {
            return [400, 'XAmzContentSHA256Mismatch',
                "The provided 'x-amz-content-sha256' header does not match what was computed."];
        }
    }
    const signed = m[2].split(';');
    if (!signed.includes('host') || signed.some((h, i) => i > 0 && signed[i - 1] >= h)) {
        return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
    }
    for (const h of Object.keys(req.headers)) {
        if (h.startsWith('x-amz-') && !signed.includes(h)) {
            return [403, 'AccessDenied', `There were headers present in the request which were not signed: ${h}`];
        }
    }
    const r = sigv4(req.method, rawPath, rawQuery, req.headers, signed, payloadHash, amzDate,
        cred.slice(1).join('/'), secretKey);
    if (r.signature !== m[3]) {
        return [403, 'SignatureDoesNotMatch',
            'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
            { AWSAccessKeyId: cred[0], StringToSign: r.stringToSign, CanonicalRequest: r.canonicalRequest }];
    }
    if (sessionToken !== null && req.headers['x-amz-security-token'] !== sessionToken) {
        return [403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.'];
    }
    return null;
}

let faultSeen = 0;
function pickFault(req) {
    const what = `${req.method} ${req.url}`;
    if (opts.faultMatch && !opts.faultMatch.test(what)) return null;
    faultSeen++;
    if (opts.faultFirst > 0 && faultSeen <= opts.faultFirst) return opts.faultKind;
    if (opts.faultRate > 0 && Math.random() < opts.faultRate) return opts.faultKind;
    return null;
}

function forward(req, rawPath, rawQuery, body, onResponse) {
    const headers = Object.assign({}, req.headers);
    delete headers.authorization;
    delete headers['x-amz-security-token'];
    headers.host = opts.upstream.host;
    headers['content-length'] = String(body.length);
    delete headers['transfer-encoding'];
    delete headers.expect;
    const up = http.request({
        host: opts.upstream.hostname, port: opts.upstream.port, method: req.method,
        path: rawPath + (rawQuery !== null ? '?' + rawQuery : ''), headers,
    }, (ures) => {
        const chunks = [];
        ures.on('data', (c) => chunks.push(c));
        ures.on('end', () => onResponse(ures.statusCode, ures.headers, Buffer.concat(chunks)));
    });
    up.on('error', (e) => onResponse(502, {}, Buffer.from(`upstream: ${e.message}`)));
    up.end(body);
}

function passOn(res, status, headers, body) {
    const h = Object.assign({}, headers);
    delete h.connection;
    delete h['transfer-encoding'];
    delete h['keep-alive'];
    if (res.req.method !== 'HEAD') h['content-length'] = String(body.length);
    res.writeHead(status, h);
    res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listUploads(res, bucket, q) {
    const prefix = q.get('prefix') || '';
    const keyMarker = q.get('key-marker') || '';
    const idMarker = q.get('upload-id-marker') || '';
    const max = Math.min(Number(q.get('max-uploads') || 1000), 1000);
    const all = [...uploads.entries()]
        .filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
        .map(([id, u]) => ({ id, ...u }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .filter((u) => !keyMarker || u.key > keyMarker || (u.key === keyMarker && idMarker && u.id > idMarker));
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    let x = '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker>${xmlEscape(keyMarker)}</KeyMarker>` +
        `<UploadIdMarker>${xmlEscape(idMarker)}</UploadIdMarker>`;
    if (truncated) {
        const last = page[page.length - 1];
        x += `<NextKeyMarker>${xmlEscape(last.key)}</NextKeyMarker>` +
            `<NextUploadIdMarker>${last.id}</NextUploadIdMarker>`;
    }
    x += `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>${max}</MaxUploads>` +
        `<IsTruncated>${truncated}</IsTruncated>`;
    for (const u of page) {
        x += `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId>` +
            '<Initiator><ID>test</ID><DisplayName>test</DisplayName></Initiator>' +
            '<Owner><ID>test</ID><DisplayName>test</DisplayName></Owner>' +
            `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`;
    }
    sendXml(res, 200, x + '</ListMultipartUploadsResult>');
}

function logRequest(req, what) {
    if (!opts.log) return;
    try {
        fs.appendFileSync(opts.log, `${req.method} ${req.url} ${what}\n`);
    } catch (e) {
        // a test hook only: never fail a request over it
    }
}

// s3rver keeps an open upload in <dir>/<bucket>/._S3rver_uploads/<id>/ with
// the key in "key" and part N in "N" (its MD5, the ETag, in "N.md5").
function recoverUploads() {
    if (!opts.s3rverDir) return;
    let buckets = [];
    try {
        buckets = fs.readdirSync(opts.s3rverDir);
    } catch (e) {
        return;
    }
    for (const bucket of buckets) {
        const udir = path.join(opts.s3rverDir, bucket, '._S3rver_uploads');
        let ids = [];
        try {
            ids = fs.readdirSync(udir);
        } catch (e) {
            continue;
        }
        for (const id of ids) {
            try {
                const dir = path.join(udir, id);
                const key = fs.readFileSync(path.join(dir, 'key'), 'utf8');
                const parts = new Map();
                for (const f of fs.readdirSync(dir)) {
                    if (!/^\d+$/.test(f)) continue;
                    let etag = '';
                    try {
                        etag = fs.readFileSync(path.join(dir, f + '.md5'), 'utf8').trim();
                    } catch (e) {
                        continue; // part not finished when the server died
                    }
                    parts.set(Number(f), { etag, size: fs.statSync(path.join(dir, f)).size });
                }
                uploads.set(id, { bucket, key, initiated: fs.statSync(dir).mtime, parts });
            } catch (e) {
                // not an upload directory
            }
        }
    }
}

function removeUploadDir(bucket, id) {
    if (!opts.s3rverDir) return;
    // s3rver keeps parts in <dir>/<bucket>/.<name>._S3rver_uploads/<id>; find it.
    const root = path.join(opts.s3rverDir, bucket);
    let names = [];
    try {
        names = fs.readdirSync(root);
    } catch (e) {
        return;
    }
    for (const n of names) {
        if (n.endsWith('_S3rver_uploads')) fs.rmSync(path.join(root, n, id), { recursive: true, force: true });
    }
}

function checkComplete(u, body) {
    const parts = [];
    const re = /<Part>\s*(?:<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]*)<\/ETag>|<ETag>([^<]*)<\/ETag>\s*<PartNumber>(\d+)<\/PartNumber>)\s*<\/Part>/g;
    let m;
    while ((m = re.exec(body.toString('utf8'))) !== null) {
        const n = Number(m[1] || m[4]);
        const etag = (m[2] || m[3]).replace(/&quot;/g, '"').replace(/"/g, '');
        parts.push({ n, etag });
    }
    if (!parts.length) {
        return [400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema'];
    }
    for (let i = 0; i < parts.length; i++) {
        const p = u.parts.get(parts[i].n);
        if (i > 0 && parts[i].n <= parts[i - 1].n) {
            return [400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.'];
        }
        if (!p || p.etag !== parts[i].etag) {
            return [400, 'InvalidPart', 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.'];
        }
        if (i < parts.length - 1 && p.size < opts.minPartSize) {
            return [400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.'];
        }
    }
    return null;
}

// The bucket of a virtual-hosted request (Host: BUCKET.vhostDomain[:port]), or null.
function vhostBucket(req) {
    const host = String(req.headers.host || '').replace(/:\d+$/, '');
    const suffix = '.' + opts.vhostDomain;
    return host.endsWith(suffix) && host.length > suffix.length ? host.slice(0, -suffix.length) : null;
}

function handle(req, res, body) {
    const u = new URL(req.url, 'http://x');
    const qi = req.url.indexOf('?');
    let rawPath = qi < 0 ? req.url : req.url.slice(0, qi);
    const rawQuery = qi < 0 ? null : req.url.slice(qi + 1);
    const q = u.searchParams;

    if (rawPath === '/__front/stats') {
        sendXml(res, 200, JSON.stringify(Object.assign({ open_uploads: uploads.size }, stats)));
        return;
    }
    if (rawPath === '/__front/faults') {
        if (q.has('first')) { opts.faultFirst = Number(q.get('first')); faultSeen = 0; }
        if (q.has('rate')) opts.faultRate = Number(q.get('rate'));
        if (q.has('kind')) opts.faultKind = q.get('kind');
        if (q.has('match')) opts.faultMatch = q.get('match') ? new RegExp(q.get('match')) : null;
        if (q.has('conditional')) opts.conditional = q.get('conditional') === '1';
        if (q.has('clock_offset')) opts.clockOffset = Number(q.get('clock_offset'));
        if (q.has('min_part')) opts.minPartSize = Number(q.get('min_part'));
        sendXml(res, 200, 'ok\n');
        return;
    }
    stats.requests++;
    const fault = pickFault(req);
    if (fault === 'reset') {
        stats.faults++;
        logRequest(req, 'reset');
        req.socket.destroy();
        return;
    }
    if (fault === 'stall') {
        stats.faults++;
        logRequest(req, 'stall');
        return; // never answered; the client waits until it gives up
    }
    if (fault === '500' || fault === '503') {
        stats.faults++;
        if (fault === '500') sendError(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
        else sendError(res, 503, 'SlowDown', 'Please reduce your request rate.');
        return;
    }
    const authErr = authenticate(req, rawPath, rawQuery, body);
    if (authErr) {
        stats.auth_errors++;
        sendError(res, authErr[0], authErr[1], authErr[2], authErr[3]);
        return;
    }
    const vb = vhostBucket(req); // signed as sent; s3rver only knows path-style
    if (vb !== null) {
        stats.virtual_hosted++;
        rawPath = '/' + uriEncode(vb, true) + (rawPath === '/' ? '' : rawPath);
    }
    const segs = rawPath.split('/');
    const bucket = decode(segs[1] || '');
    const key = decode(segs.slice(2).join('/'));
    const op = `${req.method}${key ? ' object' : ' bucket'}${[...q.keys()].filter((k) => ['uploads', 'uploadId', 'partNumber', 'list-type'].includes(k)).map((k) => ' ' + k).join('')}`;
    stats.by_op[op] = (stats.by_op[op] || 0) + 1;

    if (key === '' && req.method === 'GET' && q.has('uploads')) {
        listUploads(res, bucket, q);
        return;
    }
    if (key && q.has('uploadId')) {
        const id = q.get('uploadId');
        const up = uploads.get(id);
        if (!up || up.bucket !== bucket || up.key !== key) {
            sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: id });
            return;
        }
        if (req.method === 'DELETE') {
            uploads.delete(id);
            removeUploadDir(bucket, id);
            stats.aborts++;
            res.writeHead(204);
            res.end();
            return;
        }
        if (req.method === 'POST') {
            const e = checkComplete(up, body);
            if (e) {
                sendError(res, e[0], e[1], e[2]);
                return;
            }
        }
    }
    const finish = (status, headers, rbody) => {
        if (status === 200 && req.method === 'POST' && q.has('uploads')) {
            const m = /<UploadId>([^<]+)<\/UploadId>/.exec(rbody.toString('utf8'));
            if (m) {
                uploads.set(m[1], { bucket, key, initiated: new Date(), parts: new Map() });
                stats.initiates++;
            }
        } else if (status === 200 && req.method === 'PUT' && q.has('partNumber')) {
            const up = uploads.get(q.get('uploadId'));
            up.parts.set(Number(q.get('partNumber')), { etag: String(headers.etag || '').replace(/"/g, ''), size: body.length });
            stats.parts++;
        } else if (status === 200 && req.method === 'POST' && q.has('uploadId')) {
            uploads.delete(q.get('uploadId'));
            stats.completes++;
        }
        if (req.method === 'GET' && req.headers.range) stats.ranged_gets++;
        if (fault === 'lost') {
            // Done upstream, but the answer never reaches the client.
            stats.faults++;
            logRequest(req, 'lost');
            req.socket.destroy();
            return;
        }
        if (fault === 'truncate' && rbody.length > 1) {
            // Promise the whole body, send half, cut the connection.
            stats.faults++;
            logRequest(req, 'truncate');
            const h = Object.assign({}, headers);
            delete h['transfer-encoding'];
            delete h.connection;
            h['content-length'] = String(rbody.length);
            res.writeHead(status, h);
            res.write(rbody.subarray(0, Math.floor(rbody.length / 2)), () => req.socket.destroy());
            return;
        }
        passOn(res, status, headers, rbody);
    };
    const conditional = opts.conditional && req.method === 'PUT' && key && !q.has('partNumber') &&
        (req.headers['if-none-match'] || req.headers['if-match']);
    if (!conditional) {
        forward(req, rawPath, rawQuery, body, finish);
        return;
    }
    condChain = condChain.then(() => new Promise((done) => {
        const head = http.request({
            host: opts.upstream.hostname, port: opts.upstream.port, method: 'HEAD', path: rawPath,
            headers: { host: opts.upstream.host },
        }, (hres) => {
            hres.resume();
            hres.on('end', () => {
                const exists = hres.statusCode === 200;
                const etag = String(hres.headers.etag || '').replace(/"/g, '');
                const inm = req.headers['if-none-match'];
                const im = req.headers['if-match'];
                if ((inm === '*' && exists) || (im && !exists) ||
                    (im && im.replace(/"/g, '') !== etag && im !== '*')) {
                    stats.conditional_412++;
                    if (im && !exists) sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
                    else sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: inm ? 'If-None-Match' : 'If-Match' });
                    done();
                    return;
                }
                forward(req, rawPath, rawQuery, body, (s, h, b) => {
                    finish(s, h, b);
                    done();
                });
            });
        });
        head.on('error', () => {
            sendError(res, 500, 'InternalError', 'upstream unreachable');
            done();
        });
        head.end();
    }));
}

if (require.main === module) {
    const tls = opts.tlsCert ? { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) } : null;
    const server = (tls ? https.createServer.bind(null, tls) : http.createServer)((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => handle(req, res, Buffer.concat(chunks)));
        req.on('error', () => {});
    });
    server.keepAliveTimeout = 30000;
    server.on('request', (req, res) => {
        res.on('finish', () => {
            if (!req.url.startsWith('/__front/')) logRequest(req, String(res.statusCode));
        });
    });
    recoverUploads();
    server.listen(opts.port, '127.0.0.1', () => {
        process.stdout.write(`front listening on ${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}\n`);
    });
    const stop = () => {
        server.close(() => process.exit(0));
        if (server.closeAllConnections) server.closeAllConnections(); // stalled ones too
        setTimeout(() => process.exit(0), 1000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

module.exports = { sigv4, canonicalQuery, uriEncode };
