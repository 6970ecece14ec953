#!/usr/bin/env node
// Benchmark-only S3 endpoint that stores nothing big: the least work an S3
// server can do, to tell etcd-dr's own cost of the S3 path (signing, multipart,
// the upload thread) from the test server's (s3rver + front.js use several CPU
// seconds per 100 MB on the same cores). Objects up to 1 MiB (lock, manifests)
// are kept in memory; bodies of larger objects and of parts are read and
// dropped, only their size is kept (a GET of one answers 501). No signature
// checks: never use it for tests.
//
// Answers: PUT object (If-None-Match: * / If-Match), GET/HEAD/DELETE object,
// ListObjectsV2 (one page), POST ?uploads, PUT ?partNumber&uploadId,
// POST ?uploadId (complete), DELETE ?uploadId (abort), GET ?uploads (list),
// POST ?delete (DeleteObjects).
// Usage: node s3sink.js --port P
'use strict';

const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const objects = new Map(); // "bucket/key" -> {body: Buffer|null, size, etag, mtime}
const uploads = new Map(); // id -> {bucket, key, size}
const SMALL = 1 << 20;

function xml(res, status, body) {
    const b = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
    res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
}

function error(res, status, code) {
    xml(res, status, `<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// Reads the body: kept when small, else only counted. cb(buffer|null, size)
function readBody(req, keep, cb) {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
        size += c.length;
        if (keep && size <= SMALL) chunks.push(c);
    });
    req.on('end', () => cb(keep && size <= SMALL ? Buffer.concat(chunks) : null, size));
}

function list(res, bucket, q) {
    const prefix = q.get('prefix') || '';
    let out = `<ListBucketResult><Name>${esc(bucket)}</Name><Prefix>${esc(prefix)}</Prefix><IsTruncated>false</IsTruncated>`;
    for (const [k, o] of [...objects.entries()].sort()) {
        if (!k.startsWith(bucket + '/')) continue;
        const key = k.slice(bucket.length + 1);
        if (!key.startsWith(prefix)) continue;
        out += `<Contents><Key>${esc(key)}</Key><Size>${o.size}</Size><ETag>"${o.etag}"</ETag>` +
            `<LastModified>${o.mtime.toISOString()}</LastModified></Contents>`;
    }
    xml(res, 200, out + '</ListBucketResult>');
}

function listUploads(res, bucket, q) {
    const prefix = q.get('prefix') || '';
    let out = `<ListMultipartUploadsResult><Bucket>${esc(bucket)}</Bucket><IsTruncated>false</IsTruncated>`;
    for (const [id, u] of uploads) {
        if (u.bucket === bucket && u.key.startsWith(prefix)) {
            out += `<Upload><Key>${esc(u.key)}</Key><UploadId>${id}</UploadId>` +
                `<Initiated>${u.initiated.toISOString()}</Initiated></Upload>`;
        }
    }
    xml(res, 200, out + '</ListMultipartUploadsResult>');
}

http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const q = u.searchParams;
    const segs = u.pathname.split('/');
    const bucket = decodeURIComponent(segs[1] || '');
    const key = decodeURIComponent(segs.slice(2).join('/'));
    const full = bucket + '/' + key;
    const m = req.method;

    if (!key) {
        if (m === 'GET' && q.has('uploads')) return listUploads(res, bucket, q);
        if (m === 'GET') return list(res, bucket, q);
        if (m === 'POST' && q.has('delete')) {
            return readBody(req, true, (b) => {
                let out = '<DeleteResult>';
                for (const k of String(b).matchAll(/<Key>([^<]*)<\/Key>/g)) {
                    const name = k[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
                    objects.delete(bucket + '/' + name);
                    out += `<Deleted><Key>${k[1]}</Key></Deleted>`;
                }
                xml(res, 200, out + '</DeleteResult>');
            });
        }
        return error(res, 405, 'MethodNotAllowed');
    }
    if (m === 'POST' && q.has('uploads')) {
        const id = crypto.randomBytes(16).toString('hex');
        uploads.set(id, { bucket, key, size: 0, initiated: new Date() });
        return xml(res, 200, `<InitiateMultipartUploadResult><Bucket>${esc(bucket)}</Bucket>` +
            `<Key>${esc(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (q.has('uploadId')) {
        const up = uploads.get(q.get('uploadId'));
        if (!up) return readBody(req, false, () => error(res, 404, 'NoSuchUpload'));
        if (m === 'PUT') {
            return readBody(req, false, (b, size) => {
                up.size += size;
                res.writeHead(200, { ETag: `"${crypto.randomBytes(16).toString('hex')}"`, 'Content-Length': 0 });
                res.end();
            });
        }
        if (m === 'DELETE') {
            uploads.delete(q.get('uploadId'));
            res.writeHead(204);
            return res.end();
        }
        if (m === 'POST') {
            return readBody(req, true, () => {
                uploads.delete(q.get('uploadId'));
                const etag = crypto.randomBytes(16).toString('hex') + '-1';
                objects.set(full, { body: null, size: up.size, etag, mtime: new Date() });
                xml(res, 200, `<CompleteMultipartUploadResult><Key>${esc(key)}</Key>` +
                    `<ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`);
            });
        }
    }
    const o = objects.get(full);
    if (m === 'PUT') {
        return readBody(req, true, (b, size) => {
            const inm = req.headers['if-none-match'];
            const im = req.headers['if-match'];
            if ((inm === '*' && o) || (im && (!o || (im !== '*' && im.replace(/"/g, '') !== o.etag)))) {
                return error(res, o || !im ? 412 : 404, o || !im ? 'PreconditionFailed' : 'NoSuchKey');
            }
            const etag = b ? crypto.createHash('md5').update(b).digest('hex') : crypto.randomBytes(16).toString('hex');
            objects.set(full, { body: b, size, etag, mtime: new Date() });
            res.writeHead(200, { ETag: `"${etag}"`, 'Content-Length': 0 });
            res.end();
        });
    }
    if (!o) {
        if (m === 'DELETE') {
            res.writeHead(204);
            return res.end();
        }
        return m === 'HEAD' ? (res.writeHead(404), res.end()) : error(res, 404, 'NoSuchKey');
    }
    if (m === 'DELETE') {
        objects.delete(full);
        res.writeHead(204);
        return res.end();
    }
    if (m === 'HEAD' || m === 'GET') {
        if (m === 'GET' && !o.body) return error(res, 501, 'NotImplemented');
        res.writeHead(200, { ETag: `"${o.etag}"`, 'Content-Length': o.size,
            'Last-Modified': o.mtime.toUTCString() });
        return res.end(m === 'GET' ? o.body : undefined);
    }
    return error(res, 405, 'MethodNotAllowed');
}).listen(port, '127.0.0.1', () => process.stdout.write(`s3sink on 127.0.0.1:${port}\n`));
