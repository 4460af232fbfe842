// pgjdbc against the server: java -cp /usr/share/java/postgresql.jar JdbcMatrix.java PORT
// Prints one JSON object: for each operation {"ok": short result} or
// {"error": message, "sqlstate": code}. Each operation gets its own connection.
import java.sql.*;
import java.util.*;

public class JdbcMatrix {
    interface Op { Object run(Connection c) throws Exception; }

    static final StringBuilder out = new StringBuilder("{");
    static String url;

    static String quote(Object o) {
        if (o == null) return "null";
        String s = o.toString().replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t");
        return "\"" + s + "\"";
    }

    static void run(String name, Op op) {
        String val;
        try (Connection c = DriverManager.getConnection(url, "prefdb", "")) {
            val = "{\"ok\": " + quote(op.run(c)) + "}";
        } catch (SQLException e) {
            val = "{\"error\": " + quote(e.getMessage()) + ", \"sqlstate\": " + quote(e.getSQLState()) + "}";
        } catch (Exception e) {
            val = "{\"error\": " + quote(e.toString()) + ", \"sqlstate\": null}";
        }
        out.append(out.length() > 1 ? ", " : "").append(quote(name)).append(": ").append(val);
    }

    // Reads every row, calls getColumnType and getObject on every column: "rows x cols, type names".
    static String drain(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        List<String> types = new ArrayList<>();
        for (int i = 1; i <= md.getColumnCount(); i++) types.add(md.getColumnType(i) + ":" + md.getColumnTypeName(i));
        int rows = 0;
        while (rs.next()) {
            for (int i = 1; i <= md.getColumnCount(); i++) rs.getObject(i);
            rows++;
        }
        rs.close();
        return rows + " rows " + types;
    }

    static Op query(String sql) { return c -> drain(c.createStatement().executeQuery(sql)); }

    public static void main(String[] args) throws Exception {
        url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/prefdb?connectTimeout=10&socketTimeout=50";
        run("select", query("SELECT model_a, turn_len_a, ts, 1.5::float8 AS x, true AS b FROM votes LIMIT 3"));
        run("null_column", query("SELECT NULL AS n"));
        run("leaderboard", query("SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes')"));
        run("bt_rank_getObject", c -> {
            ResultSet rs = c.createStatement().executeQuery("SELECT bt_rank(model_a, model_b, winner) FROM votes");
            rs.next();
            Object o = rs.getObject(1);
            return o.getClass().getSimpleName() + " " + o.toString().substring(0, Math.min(60, o.toString().length()));
        });
        run("prepared_setString", c -> {
            PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM votes WHERE category = ?");
            ps.setString(1, "coding");
            return drain(ps.executeQuery());
        });
        run("prepared_setDate_timestamptz", c -> {
            PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM votes WHERE ts >= ?");
            ps.setDate(1, java.sql.Date.valueOf("2024-01-15"));
            return drain(ps.executeQuery());
        });
        run("prepared_setTimestamp", c -> {
            PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM votes WHERE ts >= ?");
            ps.setTimestamp(1, java.sql.Timestamp.valueOf("2024-01-15 00:00:00"));
            return drain(ps.executeQuery());
        });
        run("getTables", c -> drain(c.getMetaData().getTables(null, null, "%", null)));
        run("getSchemas", c -> drain(c.getMetaData().getSchemas()));
        run("getCatalogs", c -> drain(c.getMetaData().getCatalogs()));
        run("getTableTypes", c -> drain(c.getMetaData().getTableTypes()));
        run("getColumns", c -> drain(c.getMetaData().getColumns(null, null, "votes", "%")));
        run("getTypeInfo", c -> drain(c.getMetaData().getTypeInfo()));
        run("getPrimaryKeys", c -> drain(c.getMetaData().getPrimaryKeys(null, null, "votes")));
        run("getIndexInfo", c -> drain(c.getMetaData().getIndexInfo(null, null, "votes", false, true)));
        run("getImportedKeys", c -> drain(c.getMetaData().getImportedKeys(null, null, "votes")));
        run("getExportedKeys", c -> drain(c.getMetaData().getExportedKeys(null, null, "votes")));
        run("getProcedures", c -> drain(c.getMetaData().getProcedures(null, null, "%")));
        run("getFunctions", c -> drain(c.getMetaData().getFunctions(null, null, "%")));
        run("getDatabaseProductVersion", c -> c.getMetaData().getDatabaseProductVersion());
        System.out.println(out.append("}"));
    }
}
