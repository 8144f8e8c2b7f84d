// An S3-compatible server on loopback for the backup tests and benchmark: npm s3rver in a process of its own (a
// test that waits on a child process synchronously would otherwise stall the server it uploads to).
// Usage: node s3server.cjs DIRECTORY BUCKET... — prints "listening <port>" once it serves on 127.0.0.1.
const S3rver = require("s3rver");

const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) {
  console.error("usage: node s3server.cjs DIRECTORY BUCKET...");
  process.exit(2);
}
new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) })
  .run()
  .then(({ port }) => console.log(`listening ${port}`))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
