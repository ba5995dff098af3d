// The launcher context (§5.6): what x-onyxia expressions such as `{{s3.AWS_ACCESS_KEY_ID}}`
// or `{{project.id}}` read. A service that is unavailable (no Vault, no S3) leaves its part
// undefined, so fields fall back to their defaults, as in onyxia-web.

import { region, currentUser, currentProject, request } from "../api.js";
import { accessToken, refreshToken, idTokenClaims } from "../auth.js";
import { randomString } from "../sha256.js";
import { s3Credentials } from "../s3.js";
import { vaultSettings, vaultToken, readUserConfig, servicePassword } from "../vault.js";

/** Builds the context once per launcher load; `randomSubdomain` also names the release. */
export async function launcherContext() {
  const r = region() || {};
  const user = await currentUser();
  const project = currentProject() || { id: user.idep, vaultTopDir: user.idep };
  const claims = idTokenClaims();
  const [ip, s3, vaultToken_, password, git] = await Promise.all([
    request("GET", "/public/ip", { auth: false }).then((b) => b.ip).catch(() => "0.0.0.0"),
    s3Credentials().catch(() => null),
    vaultSettings() ? vaultToken().catch(() => null) : null,
    vaultSettings() ? servicePassword(project).catch(() => null) : null,
    gitConfig(),
  ]);
  const projectPassword = password || randomString(12);
  const services = r.services || {};
  const expose = services.expose || {};
  const s3Context = s3 ? s3Entry(s3) : undefined;
  const vault = vaultSettings();
  return {
    user: {
      idep: user.idep,
      name: user.nomComplet || user.idep,
      email: user.email || "",
      password: projectPassword,
      ip,
      darkMode: matchMedia("(prefers-color-scheme: dark)").matches,
      lang: "en",
      decodedIdToken: claims,
      accessToken: (await accessToken()) || "",
      refreshToken: refreshToken(),
    },
    service: { oneTimePassword: randomString(12).replace(/[-_]/g, "x") },
    project: {
      id: project.id,
      password: projectPassword,
      basic: btoa(`${project.id}:${projectPassword}`),
    },
    git,
    vault: vault ? {
      VAULT_ADDR: vault.url,
      VAULT_TOKEN: vaultToken_?.token,
      VAULT_MOUNT: vault.mount,
      VAULT_TOP_DIR: project.vaultTopDir,
    } : undefined,
    s3: s3Context,
    s3_array: s3Context ? [s3Context] : [],
    region: {
      defaultIpProtection: services.defaultConfiguration?.ipprotection,
      defaultNetworkPolicy: services.defaultConfiguration?.networkPolicy,
      allowedURIPattern: services.allowedURIPattern || "^https://",
      customValues: services.customValues || {},
      sliders: services.defaultConfiguration?.sliders || {},
      resources: services.defaultConfiguration?.resources,
      tolerations: services.defaultConfiguration?.tolerations,
      nodeSelector: services.defaultConfiguration?.nodeSelector,
      startupProbe: services.defaultConfiguration?.startupProbe,
    },
    k8s: {
      domain: expose.domain || "localhost",
      ingressClassName: expose.ingressClassName || "",
      ingress: expose.ingress !== false,
      route: expose.route === true,
      istio: expose.istio,
      randomSubdomain: String(Math.floor(Math.random() * 1e6)),
      initScriptUrl: services.initScript || "",
      useCertManager: expose.certManager?.useCertManager === true,
      certManagerClusterIssuer: expose.certManager?.certManagerClusterIssuer || "",
    },
    proxyInjection: r.proxyInjection,
    packageRepositoryInjection: r.packageRepositoryInjection,
    certificateAuthorityInjection: r.certificateAuthorityInjection,
  };
}

function s3Entry(credentials) {
  const url = new URL(credentials.endpoint);
  return {
    profileName: "default",
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    AWS_DEFAULT_REGION: credentials.region || "us-east-1",
    AWS_S3_ENDPOINT: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
    pathStyleAccess: credentials.pathStyleAccess,
    isAnonymous: false,
  };
}

async function gitConfig() {
  const read = (key) => readUserConfig(key).catch(() => null);
  const user = await currentUser();
  const [name, email, duration, token] = await Promise.all([
    read("gitName"), read("gitEmail"), read("gitCredentialCacheDuration"), read("githubPersonalAccessToken"),
  ]);
  return {
    name: name ?? user.idep,
    email: email ?? user.email ?? "",
    credentials_cache_duration: Number(duration ?? 0),
    token: token || undefined,
  };
}
