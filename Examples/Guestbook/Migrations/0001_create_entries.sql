CREATE TABLE entries (
    id bigserial PRIMARY KEY,
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 280),
    region text NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
