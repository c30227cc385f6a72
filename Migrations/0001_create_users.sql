-- Users, as in `mix phx.gen.html Accounts User users name:string age:integer`.
-- The CHECK constraints repeat the rules in UserParams.validated().
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL
        CONSTRAINT users_name_length CHECK (char_length(name) BETWEEN 1 AND 100)
        CONSTRAINT users_name_trimmed CHECK (name !~ '^\s' AND name !~ '\s$'),
    age integer NOT NULL
        CONSTRAINT users_age_range CHECK (age BETWEEN 0 AND 150),
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
