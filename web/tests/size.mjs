// The widget stays small: under 50 KB gzipped (gzip -9), measured on the file as served.

const base = process.env.GATEWAY_URL;
const LIMIT = 50 * 1024;
const { gzipSync } = await import('node:zlib');
const res = await fetch(base + '/widget.js');
const body = Buffer.from(await res.arrayBuffer());
const gz = gzipSync(body, { level: 9 }).length;
const type = res.headers.get('content-type') || '';
console.log(`widget.js: ${body.length} bytes, ${gz} bytes gzipped (limit ${LIMIT}), ${type}, cache-control: ${res.headers.get('cache-control')}`);
if (res.status !== 200 || !type.startsWith('text/javascript') || gz >= LIMIT) {
  console.error('widget.js must be served as JavaScript and stay under 50 KB gzipped');
  process.exit(1);
}
