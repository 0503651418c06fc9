CREATE TABLE `upstream_users` (
	`principal_key` text PRIMARY KEY NOT NULL,
	`comfy_user_id` text NOT NULL,
	`display_name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `upstream_users_comfy_user_id_unique` ON `upstream_users` (`comfy_user_id`);