// Checks front.js's SigV4 code against AWS's published examples, so that the
// integration test's verifier is itself known to be right. Run: node selftest.js
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { sigv4 } = require('./front.js');

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('aws-sig-v4-test-suite get-vanilla', () => {
    const r = sigv4('GET', '/', null, { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
        ['host', 'x-amz-date'], EMPTY, '20150830T123600Z', '20150830/us-east-1/service/aws4_request',
        'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
    assert.strictEqual(r.signature, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
});

test('S3 documentation: GET object with Range', () => {
    const r = sigv4('GET', '/test.txt', null, {
        host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z',
    }, ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'], EMPTY, '20130524T000000Z',
    '20130524/us-east-1/s3/aws4_request', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    assert.strictEqual(r.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('S3 documentation: GET bucket (list objects) max-keys=2&prefix=J', () => {
    const r = sigv4('GET', '/', 'max-keys=2&prefix=J', {
        host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY,
        'x-amz-date': '20130524T000000Z',
    }, ['host', 'x-amz-content-sha256', 'x-amz-date'], EMPTY, '20130524T000000Z',
    '20130524/us-east-1/s3/aws4_request', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    assert.strictEqual(r.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});
