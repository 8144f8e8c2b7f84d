/**
 * CloudflareZone: the public side of the edge in a Cloudflare zone. One DNS record per domain pointing at the
 * host (proxied when Cloudflare terminates TLS). With edge.tls cloudflare, also an Origin CA certificate for
 * every domain (the key and CSR made here with @pulumi/tls, the key never leaving the stack's secrets) and the
 * zone settings that make the chain strict: SSL "strict", Always Use HTTPS, TLS ≥ 1.2, TLS 1.3 on.
 * The Cloudflare API token comes from the provider's own config (cloudflare:apiToken, secret) or
 * CLOUDFLARE_API_TOKEN.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { EdgeCertificate } from "./edge";
import { dnsRecordName } from "../config/names";

export interface CloudflareZoneArgs {
  zoneId: string;
  /** Every public domain of the stack (routed and redirected). */
  hostnames: string[];
  /** What the records point at: an IPv4 (A), IPv6 (AAAA) or host name (CNAME). */
  target: string;
  /** Whether Cloudflare terminates TLS: proxied records, Origin CA certificate, strict zone settings. */
  originCertificate: boolean;
  /** Days the Origin CA certificate is valid (Cloudflare allows 7 to 5475). Default 5475 (15 years). */
  validityDays?: number;
}

/** Zone settings for a strict TLS chain: `settingId` → value. */
export const STRICT_TLS_SETTINGS: Record<string, string> = {
  ssl: "strict",
  always_use_https: "on",
  min_tls_version: "1.2",
  tls_1_3: "on",
};

export class CloudflareZone extends pulumi.ComponentResource {
  readonly records: cloudflare.DnsRecord[];
  readonly certificate?: EdgeCertificate;

  constructor(name: string, args: CloudflareZoneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("railyard:index:CloudflareZone", name, {}, opts);
    const childOpts = { parent: this };
    this.records = args.hostnames.map((domain) => dnsRecord(name, domain, args, childOpts));
    if (args.originCertificate) {
      this.certificate = originCertificate(name, args, childOpts);
      for (const [settingId, value] of Object.entries(STRICT_TLS_SETTINGS)) {
        new cloudflare.ZoneSetting(`${name}-${settingId.replace(/_/g, "-")}`, { zoneId: args.zoneId, settingId, value }, childOpts);
      }
    }
    this.registerOutputs({ records: this.records.map((r) => r.name) });
  }
}

function recordType(target: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(target)) return "A";
  return target.includes(":") ? "AAAA" : "CNAME";
}

function dnsRecord(name: string, domain: string, args: CloudflareZoneArgs, opts: pulumi.CustomResourceOptions): cloudflare.DnsRecord {
  const record = dnsRecordName(name, domain);
  return new cloudflare.DnsRecord(
    record.name,
    {
      zoneId: args.zoneId,
      name: domain,
      type: recordType(args.target),
      content: args.target,
      proxied: args.originCertificate,
      ttl: 1,
      comment: "managed by railyard",
    },
    { ...opts, aliases: [{ name: record.previous }] },
  );
}

function originCertificate(name: string, args: CloudflareZoneArgs, opts: pulumi.CustomResourceOptions): EdgeCertificate {
  const key = new tls.PrivateKey(`${name}-origin-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
  const csr = new tls.CertRequest(
    `${name}-origin-csr`,
    { privateKeyPem: key.privateKeyPem, subject: { commonName: args.hostnames[0], organization: "railyard" }, dnsNames: args.hostnames },
    opts,
  );
  const cert = new cloudflare.OriginCaCertificate(
    `${name}-origin-cert`,
    { csr: csr.certRequestPem, hostnames: args.hostnames, requestType: "origin-ecc", requestedValidity: args.validityDays ?? 5475 },
    opts,
  );
  return { certPem: cert.certificate, keyPem: pulumi.secret(key.privateKeyPem) };
}
