CREATE TABLE `ip_rules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`range` text NOT NULL,
	`expires_at` integer,
	`reason` text NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ip_rules_kind` ON `ip_rules` (`kind`,`range`);