CREATE TABLE `file_owners` (
	`type` text NOT NULL,
	`subfolder` text NOT NULL,
	`filename` text NOT NULL,
	`user_id` text NOT NULL,
	`prompt_id` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`type`, `subfolder`, `filename`)
);
--> statement-breakpoint
CREATE INDEX `file_owners_user` ON `file_owners` (`user_id`);--> statement-breakpoint
CREATE TABLE `prompt_owners` (
	`prompt_id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`username` text NOT NULL,
	`client_id` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `prompt_owners_user` ON `prompt_owners` (`user_id`,`created_at`);