// Monitoring and alerts: Prometheus (with node, PostgreSQL and nginx exporters) scrapes every
// Synapse process, Alertmanager delivers what its rules find into a Matrix room. The keys are in
// keys.ts, their rules here; what runs where is in render/monitoring.ts.
import { TierName } from "./tiers";

/** A Prometheus duration as the stack's keys take it (no ms: nothing here is that short). */
export const promDurationPattern = /^([1-9][0-9]*)(s|m|h|d|w)$/;
/** A Prometheus size (storage.tsdb.retention.size). */
export const promSizePattern = /^([1-9][0-9]*)(MB|GB|TB)$/;
const promUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

export function promDurationSeconds(d: string): number {
  const [, n, unit] = promDurationPattern.exec(d)!;
  return Number(n) * promUnits[unit];
}

/**
 * Prometheus per tier. How long it keeps its samples: by time, and by size so a busy homeserver
 * cannot fill the disk (whichever comes first); about 3,700 series for solo's single process
 * (measured), more with each worker; at a 30 s interval and under 2 bytes a sample, a day of solo
 * is about 20 MB. Its memory grows with the series: 90 MiB PSS measured on solo; the allowance is
 * its systemd MemoryHigh and its share of the tier's memory budget (config/workers.ts).
 */
export const tierMonitoring: Record<TierName, { retentionTime: string; retentionSize: string; prometheusMemoryMiB: number }> = {
  solo: { retentionTime: "15d", retentionSize: "512MB", prometheusMemoryMiB: 160 },
  community: { retentionTime: "30d", retentionSize: "2GB", prometheusMemoryMiB: 224 },
  large: { retentionTime: "90d", retentionSize: "8GB", prometheusMemoryMiB: 320 },
};

export interface AlertEmail {
  to: string;
  from: string;
  /** host:port of the SMTP server. */
  smarthost: string;
  username?: string;
  /** Secret. */
  password?: string;
}

export interface MonitoringSettings {
  /** How often Prometheus scrapes and evaluates its rules. */
  interval: string;
  /** How long a condition holds before its alert fires (the rules' `for`). */
  alertFor: string;
  retention: { time: string; size: string };
  /** Localpart of the bot that posts alerts into the admin room. */
  botUser: string;
  webhookUrl?: string;
  email?: AlertEmail;
}

/** The values of the monitoring keys (as keys.ts declares them). */
export interface MonitoringKeys {
  monitoring: boolean;
  monitoringInterval: string;
  monitoringAlertFor: string;
  monitoringRetention: string;
  monitoringRetentionSize: string;
  monitoringBotUser: string;
  alertWebhookUrl: string;
  alertEmail: string;
  alertSmtpHost: string;
  alertSmtpFrom: string;
  alertSmtpUser: string;
  alertSmtpPassword: string;
  adminUser: string;
  tier: TierName;
}

/**
 * The monitoring settings, or undefined when monitoring is off. Cross-key rules: alerts go into a
 * room the admin is invited to (adminUser); an alert cannot wait less than one evaluation; e-mail
 * needs its SMTP server and sender, a password its user; the bot is not the admin.
 */
export function monitoringSettings(c: MonitoringKeys, project: string, errors: string[]): MonitoringSettings | undefined {
  if (!c.monitoring) return undefined;
  if (c.adminUser === "") {
    errors.push(`${project}:monitoring: given true, expected adminUser to be set too (alerts go into a room the admin is invited to)`);
  }
  if (c.monitoringBotUser === c.adminUser) {
    errors.push(`${project}:monitoringBotUser: given ${JSON.stringify(c.monitoringBotUser)}, expected another user than adminUser (the bot is an ordinary user of its own)`);
  }
  if (promDurationSeconds(c.monitoringAlertFor) < promDurationSeconds(c.monitoringInterval)) {
    errors.push(`${project}:monitoringAlertFor: given ${JSON.stringify(c.monitoringAlertFor)}, expected at least monitoringInterval ` +
      `(${JSON.stringify(c.monitoringInterval)}): a condition is only seen once per evaluation`);
  }
  let email: AlertEmail | undefined;
  if (c.alertEmail !== "") {
    for (const key of ["alertSmtpHost", "alertSmtpFrom"] as const) {
      if (c[key] === "") errors.push(`${project}:${key}: given nothing, expected a value with alertEmail (the SMTP server and the sender Alertmanager mails through)`);
    }
    email = {
      to: c.alertEmail, from: c.alertSmtpFrom, smarthost: c.alertSmtpHost,
      ...(c.alertSmtpUser ? { username: c.alertSmtpUser } : {}), ...(c.alertSmtpPassword ? { password: c.alertSmtpPassword } : {}),
    };
  } else {
    for (const key of ["alertSmtpHost", "alertSmtpFrom", "alertSmtpUser", "alertSmtpPassword"] as const) {
      if (c[key] !== "") errors.push(`${project}:${key}: given ${key === "alertSmtpPassword" ? "a secret value" : JSON.stringify(c[key])}, expected nothing without alertEmail`);
    }
  }
  if (c.alertSmtpPassword !== "" && c.alertSmtpUser === "") {
    errors.push(`${project}:alertSmtpPassword: given a secret value, expected alertSmtpUser to be set too (the SMTP login it belongs to)`);
  }
  const tier = tierMonitoring[c.tier];
  return {
    interval: c.monitoringInterval,
    alertFor: c.monitoringAlertFor,
    retention: { time: c.monitoringRetention || tier.retentionTime, size: c.monitoringRetentionSize || tier.retentionSize },
    botUser: c.monitoringBotUser,
    ...(c.alertWebhookUrl ? { webhookUrl: c.alertWebhookUrl } : {}),
    ...(email ? { email } : {}),
  };
}
