-- CSV uploads through Callboard: a data set names the columns its file must have (besides
-- _timestamp); an upload keeps the file it came from; uploaders get links of their own.
ALTER TABLE data_sets ADD COLUMN fields text[] NOT NULL DEFAULT '{}';
ALTER TABLE data_set_uploads ADD COLUMN row_count integer, ADD COLUMN content text;
ALTER TABLE links ADD COLUMN data_set_id uuid REFERENCES data_sets (id);
ALTER TABLE links DROP CONSTRAINT links_purpose_check;
ALTER TABLE links ADD CONSTRAINT links_purpose_check CHECK (purpose IN ('sign_off', 'contact', 'upload'));
