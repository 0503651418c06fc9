CREATE TABLE `model_grants` (
	`grantee` text NOT NULL,
	`folder` text NOT NULL,
	`item_name` text NOT NULL,
	`granted_by` text,
	`granted_by_role` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`grantee`, `folder`, `item_name`)
);
--> statement-breakpoint
-- Hand-written (not drizzle-kit): everything stays visible to power, user and guest until an admin narrows it.
INSERT INTO `model_grants` (`grantee`, `folder`, `item_name`, `granted_by`, `granted_by_role`, `created_at`) VALUES
	('role:power', '*', '*', NULL, NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
	('role:user', '*', '*', NULL, NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000),
	('role:guest', '*', '*', NULL, NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
