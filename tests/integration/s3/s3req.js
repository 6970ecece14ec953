#!/usr/bin/env node
// Test-only S3 client for etcd-dr's integration tests: sends one request
// signed with SigV4 (front.js's signer, itself checked against AWS's published
// vectors by selftest.js), so that a test can look at the server the way any
// S3 client would, e.g. ListMultipartUploads through the signature-checking front.
//
// Usage: node s3req.js [-H 'NAME: VALUE']... METHOD URL [BODY_FILE]
//        node s3req.js --uploads ENDPOINT BUCKET [PREFIX]
// The first form prints the answer's body and exits 0 for a 2xx status, 1
// otherwise (the status goes to stderr); each -H adds a signed header (say,
// x-amz-meta-k3s-node-name, the user metadata k3s writes with its snapshots). The second lists the bucket's open
// multipart uploads (every page) and prints one "KEY UPLOAD_ID" line each.
// Credentials and region: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
'use strict';

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const { sigv4 } = require('./front.js');

function send(method, url, body, extra = {}) {
    const u = new URL(url);
    const qi = url.indexOf('?');
    const rawQuery = qi < 0 ? null : url.slice(qi + 1);
    const rawPath = u.pathname;
    const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const region = process.env.AWS_REGION || 'us-east-1';
    const scope = `${now.slice(0, 8)}/${region}/s3/aws4_request`;
    const payloadHash = crypto.createHash('sha256').update(body).digest('hex');
    const headers = {
        host: u.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': now, ...extra,
    };
    const signed = Object.keys(headers).sort();
    const sig = sigv4(method, rawPath, rawQuery, headers, signed, payloadHash, now, scope,
        process.env.AWS_SECRET_ACCESS_KEY || '').signature;
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/` +
        `${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
    headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
        const req = http.request({
            host: u.hostname, port: u.port, method, path: rawPath + (rawQuery !== null ? '?' + rawQuery : ''),
            headers,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve([res.statusCode, Buffer.concat(chunks).toString('utf8')]));
        });
        req.on('error', reject);
        req.end(body);
    });
}

function tag(xml, name) {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return m ? m[1] : null;
}

async function listUploads(endpoint, bucket, prefix) {
    let km = null;
    let um = null;
    for (;;) {
        let q = `uploads&prefix=${encodeURIComponent(prefix)}`;
        if (km !== null) q += `&key-marker=${encodeURIComponent(km)}&upload-id-marker=${encodeURIComponent(um)}`;
        const [status, body] = await send('GET', `${endpoint}/${bucket}?${q}`, Buffer.alloc(0));
        if (status !== 200) throw new Error(`ListMultipartUploads: HTTP ${status}: ${body}`);
        const re = /<Upload>([\s\S]*?)<\/Upload>/g;
        let m;
        while ((m = re.exec(body)) !== null) process.stdout.write(`${tag(m[1], 'Key')} ${tag(m[1], 'UploadId')}\n`);
        if (tag(body, 'IsTruncated') !== 'true') return;
        km = tag(body, 'NextKeyMarker');
        um = tag(body, 'NextUploadIdMarker');
    }
}

async function main(argv) {
    const extra = {};
    while (argv[0] === '-H' && argv.length >= 2) {
        const i = argv[1].indexOf(':');
        extra[argv[1].slice(0, i).trim().toLowerCase()] = argv[1].slice(i + 1).trim();
        argv = argv.slice(2);
    }
    if (argv[0] === '--uploads' && argv.length >= 3) {
        await listUploads(argv[1].replace(/\/+$/, ''), argv[2], argv[3] || '');
        return 0;
    }
    if (argv.length < 2) {
        process.stderr.write('usage: s3req.js METHOD URL [BODY_FILE] | --uploads ENDPOINT BUCKET [PREFIX]\n');
        return 2;
    }
    const body = argv[2] ? fs.readFileSync(argv[2]) : Buffer.alloc(0);
    const [status, text] = await send(argv[0], argv[1], body, extra);
    process.stdout.write(text);
    process.stderr.write(`HTTP ${status}\n`);
    return status >= 200 && status < 300 ? 0 : 1;
}

main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => {
    process.stderr.write(`s3req: ${e.message}\n`);
    process.exit(1);
});
