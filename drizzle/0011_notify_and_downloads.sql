CREATE TABLE `notify_settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`server_url` text NOT NULL,
	`topic` text NOT NULL,
	`token_sealed` text,
	`events_json` text NOT NULL,
	`attach_images` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text
);
--> statement-breakpoint
CREATE TABLE `download_api_keys` (
	`user_id` text NOT NULL,
	`source` text NOT NULL,
	`key_sealed` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `source`)
);
--> statement-breakpoint
CREATE TABLE `download_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`requested_by` text NOT NULL,
	`source` text NOT NULL,
	`status` text NOT NULL,
	`folder` text NOT NULL,
	`request_json` text NOT NULL,
	`filename` text,
	`total_bytes` integer,
	`bytes_done` integer NOT NULL,
	`expected_sha256` text,
	`sha256` text,
	`error_code` text,
	`error` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `download_jobs_user` ON `download_jobs` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `download_jobs_status` ON `download_jobs` (`status`);--> statement-breakpoint
CREATE TABLE `download_preferences` (
	`user_id` text PRIMARY KEY NOT NULL,
	`civitai_host` text NOT NULL,
	`updated_at` integer NOT NULL
);
