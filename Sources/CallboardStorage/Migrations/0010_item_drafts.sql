-- "Save and come back later" on the service contact's forms: an item's unfinished answers, kept
-- unvalidated apart from the request until the item is saved (the task list shows it in progress).
CREATE TABLE item_drafts (
    request_id uuid NOT NULL REFERENCES requests (id),
    item       text NOT NULL,
    answers    jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (request_id, item)
);
