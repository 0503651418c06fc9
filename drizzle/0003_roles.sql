CREATE TABLE `role_permissions` (
	`role` text NOT NULL,
	`key` text NOT NULL,
	`allowed` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`role`, `key`)
);
