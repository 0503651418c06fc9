/**
 * The admin app's built-in sections, listed in this order (each also has its own `order`).
 * A new section is one file in this folder exporting an `AdminSection`, plus its line here.
 */
import type { AdminSection } from "../section.ts";
import { usersSection } from "./users.ts";
import { permissionsSection } from "./permissions.ts";
import { sessionsSection } from "./sessions.ts";
import { settingsSection } from "./settings.ts";
import { nsfwSection } from "./nsfw.ts";
import { ipRulesSection } from "./ip-rules.ts";
import { auditSection } from "./audit.ts";
import { downloadsSection } from "./downloads.ts";
import { notificationsSection } from "./notifications.ts";

export const BUILT_IN_SECTIONS: readonly AdminSection[] = [
  usersSection,
  permissionsSection,
  sessionsSection,
  settingsSection,
  nsfwSection,
  ipRulesSection,
  auditSection,
  downloadsSection,
  notificationsSection,
];
