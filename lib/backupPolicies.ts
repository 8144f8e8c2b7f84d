/**
 * The backup bucket's access documents as plain JSON, built from names alone so that tests read exactly what
 * AWS receives: the bucket policy (TLS only; the host's keys can do nothing but their own actions), the
 * uploader's IAM policy (put under the stack's prefix, nothing else), the drill reader's (read and list under
 * the prefix), and the AWS shared-credentials file the host's scripts read a key from.
 */

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | { AWS: string | string[] };
  Action?: string[];
  NotAction?: string[];
  /** One of Resource and NotResource. */
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/**
 * All the uploader may do. Multipart uploads (create, upload part, complete) are authorised as s3:PutObject.
 * No delete, get, list, retention or ACL action: an overwrite only adds a version (the bucket is versioned), so
 * a compromised host cannot destroy or read its own history.
 */
export const UPLOADER_ACTIONS = ["s3:PutObject"];
/** What the drill reader may do on the dumps (a given version too), and on the bucket (list, under the prefix). */
export const READER_OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"];
export const READER_BUCKET_ACTIONS = ["s3:ListBucket"];

/** The ARN of every object under the stack's prefix. */
export function dumpsArn(bucketArn: string, prefix: string): string {
  return `${bucketArn}/${prefix}/*`;
}

export function uploaderPolicy(bucketArn: string, prefix: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [{ Sid: "PutDumpsUnderPrefix", Effect: "Allow", Action: UPLOADER_ACTIONS, Resource: dumpsArn(bucketArn, prefix) }],
  };
}

export function readerPolicy(bucketArn: string, prefix: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadDumpsUnderPrefix", Effect: "Allow", Action: READER_OBJECT_ACTIONS, Resource: dumpsArn(bucketArn, prefix) },
      // `<prefix>/*` also matches `<prefix>/` itself (* matches nothing too).
      { Sid: "ListDumpsUnderPrefix", Effect: "Allow", Action: READER_BUCKET_ACTIONS, Resource: bucketArn, Condition: { StringLike: { "s3:prefix": [`${prefix}/*`] } } },
    ],
  };
}

/** The ARNs of the host's IAM users (the reader when drills read on the host). */
export interface HostPrincipals {
  uploader: string;
  reader?: string;
}

/**
 * The bucket policy. Every request without TLS is refused. And the host's keys are denied everything but their
 * own actions, and any object or listing outside the stack's prefix, whatever IAM policy is attached to them later
 * (an explicit deny wins over any allow): the IAM policies grant, this bounds.
 */
export function bucketPolicy(bucketArn: string, prefix: string, host: HostPrincipals): PolicyDocument {
  const everything = [bucketArn, `${bucketArn}/*`];
  const statements: PolicyStatement[] = [
    { Sid: "DenyWithoutTls", Effect: "Deny", Principal: "*", Action: ["s3:*"], Resource: everything, Condition: { Bool: { "aws:SecureTransport": "false" } } },
    { Sid: "UploaderOnlyPuts", Effect: "Deny", Principal: { AWS: host.uploader }, NotAction: UPLOADER_ACTIONS, Resource: everything },
  ];
  if (host.reader !== undefined) {
    statements.push({
      Sid: "ReaderOnlyReads",
      Effect: "Deny",
      Principal: { AWS: host.reader },
      NotAction: [...READER_OBJECT_ACTIONS, ...READER_BUCKET_ACTIONS],
      Resource: everything,
    });
  }
  const principals = host.reader === undefined ? [host.uploader] : [host.uploader, host.reader];
  statements.push({
    Sid: "HostOnlyItsPrefix",
    Effect: "Deny",
    Principal: { AWS: principals },
    Action: [...UPLOADER_ACTIONS, ...READER_OBJECT_ACTIONS],
    NotResource: dumpsArn(bucketArn, prefix),
  });
  if (host.reader !== undefined) {
    statements.push({
      Sid: "ReaderListsOnlyItsPrefix",
      Effect: "Deny",
      Principal: { AWS: host.reader },
      Action: READER_BUCKET_ACTIONS,
      Resource: bucketArn,
      Condition: { StringNotLike: { "s3:prefix": [`${prefix}/*`] } },
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * A key as a credentials file can hold it on one line: printable ASCII without spaces, quotes or backslashes. Not
 * AWS's own shapes: other S3-compatible stores (R2's lower-case hex IDs, B2's, MinIO's chosen ones) use theirs.
 */
export const KEY_PART = /^[!#-&(-[\]-_a-~]{3,256}$/;
const ACCESS_KEY_ID = KEY_PART;
const SECRET_ACCESS_KEY = KEY_PART;

/**
 * An AWS shared-credentials file with one `[default]` profile. The key is checked first: a line break in it
 * would add lines of its own to the file.
 */
export function credentialsIni(accessKeyId: string, secretAccessKey: string): string {
  if (!ACCESS_KEY_ID.test(accessKeyId)) throw new Error("credentialsIni: the access key ID is not one printable word (3 to 256 characters, no space, quote or backslash)");
  if (!SECRET_ACCESS_KEY.test(secretAccessKey)) throw new Error("credentialsIni: the secret access key is not one printable word (3 to 256 characters, no space, quote or backslash)");
  return `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`;
}
