// Renders kubeconfig files with the certificates embedded, so a copy works anywhere on the machine.
import { readFile } from "node:fs/promises";
import type { CertificateFiles } from "./certificates.ts";

/** What a kubeconfig names: the API server, the CA that signed it, and the client certificate. */
export interface KubeconfigInput {
  readonly server: string;
  readonly caCert: string;
  readonly client: CertificateFiles;
  readonly user: string;
  /** Name of the cluster and the context. @default "jobchannel-e2e" */
  readonly name?: string;
}

const base64 = async (path: string): Promise<string> => (await readFile(path)).toString("base64");

/** The YAML of a one-cluster, one-user kubeconfig whose current context is that pair. */
export async function renderKubeconfig(input: KubeconfigInput): Promise<string> {
  const name = input.name ?? "jobchannel-e2e";
  const [ca, cert, key] = await Promise.all([
    base64(input.caCert),
    base64(input.client.cert),
    base64(input.client.key),
  ]);
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${name}`,
    "  cluster:",
    `    server: ${input.server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${input.user}`,
    "  user:",
    `    client-certificate-data: ${cert}`,
    `    client-key-data: ${key}`,
    "contexts:",
    `- name: ${name}`,
    "  context:",
    `    cluster: ${name}`,
    `    user: ${input.user}`,
    `current-context: ${name}`,
    "",
  ].join("\n");
}
