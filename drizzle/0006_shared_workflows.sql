CREATE TABLE `shared_workflows` (
	`name` text PRIMARY KEY NOT NULL,
	`content` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`promoted_by` text NOT NULL,
	`promoted_at` integer NOT NULL
);
