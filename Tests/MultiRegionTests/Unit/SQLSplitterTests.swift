import Testing

@testable import MultiRegion
import MultiRegionTesting

@Suite("SQL splitter")
struct SQLSplitterTests {
    @Test("Statements are split on top-level semicolons")
    func simple() {
        #expect(SQLSplitter.statements(in: "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1);") == [
            "CREATE TABLE a (x int)", "INSERT INTO a VALUES (1)",
        ])
    }

    @Test("Semicolons inside strings, identifiers and comments do not split")
    func quotedSemicolons() {
        let script = """
            INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\';slash');
            SELECT "odd;name" FROM t; -- trailing; comment
            /* block; /* nested; */ still comment; */ SELECT 2;
            """
        let statements = SQLSplitter.statements(in: script)
        #expect(statements.count == 3)
        #expect(statements[0] == "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\';slash')")
        #expect(statements[1] == "SELECT \"odd;name\" FROM t")
        #expect(statements[2].hasSuffix("SELECT 2"))
    }

    @Test("Dollar-quoted bodies stay whole")
    func dollarQuoting() {
        let script = """
            CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;
            CREATE FUNCTION g() RETURNS text AS $body$ SELECT 'x;$$y'; $body$ LANGUAGE sql;
            SELECT $1;
            """
        let statements = SQLSplitter.statements(in: script)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix("$$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql"))
        #expect(statements[1].contains("$body$ SELECT 'x;$$y'; $body$"))
        #expect(statements[2] == "SELECT $1")
    }

    @Test("Empty statements and comment-only parts are dropped")
    func emptyParts() {
        #expect(SQLSplitter.statements(in: ";;\n-- only a comment\n;  /* and this */ ;") == [])
    }
}
