// SigV4 of the browser's S3 client against signatures botocore computed for the same inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { signRequest, presignUrl, uriEncode } from "../../web/js/s3.js";
import { sha256, hmacSha256, toHex } from "../../web/js/sha256.js";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session-token-1" };
const date = new Date("2026-11-23T12:00:00Z");

test("SHA-256 and HMAC match the standard vectors", () => {
  assert.equal(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(toHex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(toHex(sha256("a".repeat(1000))), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  // RFC 4231 test case 2.
  assert.equal(toHex(hmacSha256("Jefe", "what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
});

test("a signed listing request matches botocore's signature", () => {
  const headers = signRequest({
    method: "GET", host: "localhost:9000", path: "/user-alice",
    query: [["list-type", "2"], ["prefix", "a b+"], ["delimiter", "/"]],
    payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    credentials, regionName: "us-east-1", date,
  });
  assert.equal(headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=31e5ef04a3dad29b84217355af6de957aa9e4fcd60cc96c430d23aad076cbd35");
  assert.equal(headers["x-amz-security-token"], "session-token-1");
  assert.equal(headers.host, undefined, "browsers set Host themselves");
});

test("a presigned URL of an odd key matches botocore's signature", () => {
  const path = `/user-alice/${uriEncode("dir/résumé +~.txt", true)}`;
  assert.equal(path, "/user-alice/dir/r%C3%A9sum%C3%A9%20%2B~.txt");
  const url = new URL(presignUrl({ endpoint: "http://localhost:9000", path, credentials, regionName: "us-east-1", expires: 3600, date }));
  assert.equal(url.searchParams.get("X-Amz-Signature"), "5c9b2d71f80689c15a9ae3110b0f283b7b5a51c6f681478d2cf92af0a7308408");
  assert.equal(url.searchParams.get("X-Amz-Security-Token"), "session-token-1");
  assert.equal(url.searchParams.get("X-Amz-Expires"), "3600");
});

test("URI encoding keeps unreserved characters and encodes the rest", () => {
  assert.equal(uriEncode("a-b_c.d~e"), "a-b_c.d~e");
  assert.equal(uriEncode("a b*(!)'"), "a%20b%2A%28%21%29%27");
  assert.equal(uriEncode("x/y", true), "x/y");
  assert.equal(uriEncode("x/y"), "x%2Fy");
});
