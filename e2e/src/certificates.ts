// Creates the test cluster's certificate authority, certificates and service-account key with the openssl CLI.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";

const execFileAsync = promisify(execFile);

/** Paths of a PEM certificate and its private key. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** Every file the control plane needs for TLS, client authentication and service-account tokens. */
export interface Pki {
  readonly ca: CertificateFiles;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost and the in-cluster names). */
  readonly apiServer: CertificateFiles;
  /** kube-controller-manager's serving certificate (127.0.0.1). */
  readonly controllerManagerServing: CertificateFiles;
  /** Client certificate of the cluster admin (group system:masters). */
  readonly admin: CertificateFiles;
  /** Client certificate of kube-controller-manager (user system:kube-controller-manager). */
  readonly controllerManager: CertificateFiles;
  /** CA of the aggregation layer's front proxy, and the client certificate kube-apiserver proxies with. */
  readonly frontProxyCa: CertificateFiles;
  readonly frontProxyClient: CertificateFiles;
  /** Private key that signs service-account tokens, and its public half that verifies them. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPublicKey: string;
  /** The node's certificates, when the PKI was made for a cluster with a node. */
  readonly node?: NodePki;
}

/** Certificates of the local node's components. */
export interface NodePki {
  /** kube-apiserver's client certificate towards kubelets (`kubectl logs/exec/port-forward`; group system:masters, as kubeadm issues it). */
  readonly kubeletClient: CertificateFiles;
  /** The kubelet's client certificate (user system:node:<name>, group system:nodes: the Node authorizer's shape). */
  readonly kubelet: CertificateFiles;
  /** The kubelet's serving certificate (the node address and name). */
  readonly kubeletServing: CertificateFiles;
  /** Client certificates of kube-scheduler and kube-proxy (the users the default RBAC bindings name). */
  readonly scheduler: CertificateFiles;
  readonly proxy: CertificateFiles;
}

/** The node a PKI is made for: its name and address. */
export interface NodeIdentity {
  readonly name: string;
  readonly address: string;
}

/** The Service IP of `kubernetes.default`: the first address of the service range. */
export const KUBERNETES_SERVICE_IP = "10.0.0.1";

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new ControlPlaneError(
      ControlPlaneErrorCode.CertificatesFailed,
      `openssl ${args.join(" ")} failed: ${stderr.trim() || String(error)}`,
      { cause: error },
    );
  }
}

async function newKey(path: string): Promise<void> {
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    path,
  ]);
}

/** A positive 127-bit serial, so that no two certificates of one CA share one. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString("hex")}`;
}

/** An openssl config whose [dn] holds the subject and whose [ext] holds the X.509v3 extensions. */
function config(subject: Readonly<Record<string, string>>, extensions: readonly string[]): string {
  const dn = Object.entries(subject).map(([k, v]) => `${k} = ${v}`);
  return [
    "[req]",
    "distinguished_name = dn",
    "prompt = no",
    "[dn]",
    ...dn,
    "[ext]",
    ...extensions,
    "",
  ].join("\n");
}

async function createCa(dir: string, name: string): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const cnf = join(dir, `${name}.cnf`);
  await writeFile(
    cnf,
    config({ CN: `jobchannel-e2e-${name}` }, [
      "basicConstraints = critical,CA:TRUE",
      "keyUsage = critical,keyCertSign,cRLSign,digitalSignature",
      "subjectKeyIdentifier = hash",
    ]),
  );
  await newKey(files.key);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-config",
    cnf,
    "-extensions",
    "ext",
    "-key",
    files.key,
    "-days",
    "3650",
    "-set_serial",
    serial(),
    "-out",
    files.cert,
  ]);
  return files;
}

async function issue(
  dir: string,
  name: string,
  ca: CertificateFiles,
  subject: Readonly<Record<string, string>>,
  usage: "serverAuth" | "clientAuth",
  altNames: readonly string[] = [],
): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const cnf = join(dir, `${name}.cnf`);
  const csr = join(dir, `${name}.csr`);
  const extensions = [
    "basicConstraints = critical,CA:FALSE",
    "keyUsage = critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage = ${usage}`,
    "authorityKeyIdentifier = keyid",
  ];
  if (altNames.length > 0) extensions.push(`subjectAltName = ${altNames.join(",")}`);
  await writeFile(cnf, config(subject, extensions));
  await newKey(files.key);
  await openssl(["req", "-new", "-config", cnf, "-key", files.key, "-out", csr]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    serial(),
    "-days",
    "365",
    "-extfile",
    cnf,
    "-extensions",
    "ext",
    "-out",
    files.cert,
  ]);
  return files;
}

async function createNodePki(
  dir: string,
  ca: CertificateFiles,
  node: NodeIdentity,
): Promise<NodePki> {
  const [kubeletClient, kubelet, kubeletServing, scheduler, proxy] = await Promise.all([
    issue(
      dir,
      "kube-apiserver-kubelet-client",
      ca,
      { O: "system:masters", CN: "kube-apiserver-kubelet-client" },
      "clientAuth",
    ),
    issue(dir, "kubelet", ca, { O: "system:nodes", CN: `system:node:${node.name}` }, "clientAuth"),
    issue(dir, "kubelet-serving", ca, { CN: node.name }, "serverAuth", [
      `IP:${node.address}`,
      `DNS:${node.name}`,
    ]),
    issue(dir, "kube-scheduler", ca, { CN: "system:kube-scheduler" }, "clientAuth"),
    issue(dir, "kube-proxy", ca, { CN: "system:kube-proxy" }, "clientAuth"),
  ]);
  return { kubeletClient, kubelet, kubeletServing, scheduler, proxy };
}

/**
 * Writes a fresh CA, the serving and client certificates, and the service-account key pair into
 * `dir`; with `node`, also the node components' certificates, and the node address in the API
 * server's serving certificate.
 */
export async function createPki(dir: string, node?: NodeIdentity): Promise<Pki> {
  const [ca, frontProxyCa] = await Promise.all([
    createCa(dir, "ca"),
    createCa(dir, "front-proxy-ca"),
  ]);
  const loopback = ["IP:127.0.0.1", "DNS:localhost"];
  const inCluster = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
  ];
  const serviceAccountKey = join(dir, "service-account.key");
  const serviceAccountPublicKey = join(dir, "service-account.pub");
  const [apiServer, controllerManagerServing, admin, controllerManager, frontProxyClient] =
    await Promise.all([
      issue(dir, "kube-apiserver", ca, { CN: "kube-apiserver" }, "serverAuth", [
        ...loopback,
        ...(node ? [`IP:${node.address}`] : []),
        `IP:${KUBERNETES_SERVICE_IP}`,
        ...inCluster.map((name) => `DNS:${name}`),
      ]),
      issue(
        dir,
        "kube-controller-manager-serving",
        ca,
        { CN: "kube-controller-manager" },
        "serverAuth",
        loopback,
      ),
      issue(dir, "admin", ca, { O: "system:masters", CN: "jobchannel-admin" }, "clientAuth"),
      issue(
        dir,
        "kube-controller-manager",
        ca,
        { CN: "system:kube-controller-manager" },
        "clientAuth",
      ),
      issue(dir, "front-proxy-client", frontProxyCa, { CN: "front-proxy-client" }, "clientAuth"),
      newKey(serviceAccountKey).then(() =>
        openssl(["pkey", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPublicKey]),
      ),
    ]);
  return {
    ...(node ? { node: await createNodePki(dir, ca, node) } : {}),
    ca,
    apiServer,
    controllerManagerServing,
    admin,
    controllerManager,
    frontProxyCa,
    frontProxyClient,
    serviceAccountKey,
    serviceAccountPublicKey,
  };
}
