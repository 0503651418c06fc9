CREATE TABLE `nsfw_verdicts` (
	`type` text NOT NULL,
	`subfolder` text NOT NULL,
	`filename` text NOT NULL,
	`version` text NOT NULL,
	`drawing` real,
	`hentai` real,
	`neutral` real,
	`porn` real,
	`sexy` real,
	`failure` text,
	`format` text,
	`width` integer,
	`height` integer,
	`classified_at` integer NOT NULL,
	`manual_tag` text,
	`tagged_by` text,
	`tagged_at` integer,
	PRIMARY KEY(`type`, `subfolder`, `filename`, `version`)
);
--> statement-breakpoint
CREATE INDEX `nsfw_verdicts_file` ON `nsfw_verdicts` (`type`,`subfolder`,`filename`,`classified_at`);--> statement-breakpoint
CREATE INDEX `nsfw_verdicts_time` ON `nsfw_verdicts` (`classified_at`);