package dev.poolguard.probe;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import javax.sql.DataSource;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/*
 * One "pod" of the Spring Boot proof (tests/spring/run.sh): a Spring Boot application whose only
 * bean of interest is the HikariCP pool that spring-boot-starter-jdbc configures from wherever
 * Spring Boot finds spring.datasource.hikari.* (arguments, SPRING_APPLICATION_JSON, system
 * properties, the environment, application*.yml/properties). Once started it puts the pool under
 * more concurrent demand than any pool size the tests set (POOLPROBE_THREADS threads, each
 * borrowing a connection and holding it), so the pool grows from its minimum-idle to its maximum,
 * and stays up until it is stopped (SIGTERM, or the end of standard input).
 *
 * The harness passes, in variables that are not Spring properties:
 *   POOLPROBE_URL      the JDBC URL, with ApplicationName naming the pod for pg_stat_activity
 *   POOLPROBE_USER     the database role
 *   POOLPROBE_STATUS   a file rewritten every 200 ms with what HikariCP reports (JSON)
 *   POOLPROBE_THREADS  how many threads borrow a connection (default 200)
 *   POOLPROBE_STDIN_WATCH=1  exit when standard input ends (the harness's end of the pipe closed)
 * They go into Spring's default properties, the lowest of all sources, so that any source a
 * test sets wins over them, and so that they survive spring.config.location (which replaces the
 * default locations, the jar's own application.properties among them). minimum-idle is 1 there
 * too: the maximum is reached only under load.
 */
@SpringBootApplication
public class PoolProbe {

	public static void main(String[] args) {
		if ("1".equals(System.getenv("POOLPROBE_STDIN_WATCH")))
			exitOnEndOfInput();
		SpringApplication app = new SpringApplication(PoolProbe.class);
		Map<String, Object> defaults = new HashMap<>();
		defaults.put("spring.main.web-application-type", "none");
		defaults.put("spring.main.banner-mode", "off");
		defaults.put("spring.datasource.url", env("POOLPROBE_URL", "jdbc:postgresql://127.0.0.1:5432/postgres"));
		defaults.put("spring.datasource.username", env("POOLPROBE_USER", "postgres"));
		defaults.put("spring.datasource.hikari.minimum-idle", "1");
		/* Waiting threads wait long (a quiet log); one that timed out asks again. */
		defaults.put("spring.datasource.hikari.connection-timeout", "600000");
		app.setDefaultProperties(defaults);
		app.run(args);
	}

	/*
	 * The harness holds the other end of standard input: when it goes away, whatever way it
	 * ended, so does the pod (with the pool's connections), instead of living on unwatched.
	 */
	private static void exitOnEndOfInput() {
		Thread watch = new Thread(() -> {
			try {
				while (System.in.read() != -1) {
					/* nothing is sent: only the end counts */
				}
			} catch (IOException e) {
				/* the same as the end */
			}
			System.exit(0);
		}, "stdin-watch");
		watch.setDaemon(true);
		watch.start();
	}

	private static String env(String name, String fallback) {
		String v = System.getenv(name);
		return v == null || v.isEmpty() ? fallback : v;
	}

	@Bean
	CommandLineRunner load(DataSource ds) {
		return args -> {
			HikariDataSource hikari = ds.unwrap(HikariDataSource.class);
			Path status = Path.of(env("POOLPROBE_STATUS", "poolprobe-status.json"));
			int threads = Integer.parseInt(env("POOLPROBE_THREADS", "200"));

			/* Start the pool and let it settle at minimum-idle before any load. */
			try (Connection c = ds.getConnection()) {
				ping(c);
			}
			Thread.sleep(500);
			HikariPoolMXBean mx = hikari.getHikariPoolMXBean();
			int beforeLoad = mx.getTotalConnections();

			for (int i = 0; i < threads; i++) {
				Thread t = new Thread(() -> hold(ds), "hold-" + i);
				t.start();
			}
			Thread reporter = new Thread(() -> report(hikari, status, threads, beforeLoad),
			    "report");
			reporter.setDaemon(true);
			reporter.start();
		};
	}

	private static void ping(Connection c) throws SQLException {
		try (Statement s = c.createStatement()) {
			s.execute("SELECT 1");
		}
	}

	/* Borrows a connection and keeps it until the process ends. */
	private static void hold(DataSource ds) {
		for (;;) {
			try (Connection c = ds.getConnection()) {
				ping(c);
				Thread.sleep(Long.MAX_VALUE);
			} catch (SQLException e) {
				/* timed out waiting for a connection: ask again */
			} catch (InterruptedException e) {
				return;
			}
		}
	}

	private static void report(HikariDataSource hikari, Path status, int threads, int beforeLoad) {
		Path tmp = status.resolveSibling(status.getFileName() + ".tmp");
		for (;;) {
			HikariPoolMXBean mx = hikari.getHikariPoolMXBean();
			String json = String.format(
			    "{\"springBoot\": \"%s\", \"hikariCP\": \"%s\", \"maximumPoolSize\": %d, "
			    + "\"minimumIdle\": %d, \"beforeLoad\": %d, \"threads\": %d, \"total\": %d, "
			    + "\"active\": %d, \"idle\": %d, \"awaiting\": %d}\n",
			    SpringBootVersion.getVersion(), hikariVersion(), hikari.getMaximumPoolSize(),
			    hikari.getMinimumIdle(), beforeLoad, threads, mx.getTotalConnections(),
			    mx.getActiveConnections(), mx.getIdleConnections(),
			    mx.getThreadsAwaitingConnection());
			try {
				Files.writeString(tmp, json, StandardCharsets.UTF_8);
				Files.move(tmp, status, StandardCopyOption.REPLACE_EXISTING,
				    StandardCopyOption.ATOMIC_MOVE);
				Thread.sleep(200);
			} catch (IOException e) {
				System.err.println("poolprobe: unable to write '" + status + "': " + e);
				return;
			} catch (InterruptedException e) {
				return;
			}
		}
	}

	/* HikariCP's jar names no Implementation-Version; Maven's pom.properties in it does. */
	private static String hikariVersion() {
		Properties p = new Properties();
		try (InputStream in = HikariDataSource.class.getResourceAsStream(
		    "/META-INF/maven/com.zaxxer/HikariCP/pom.properties")) {
			if (in == null)
				return "unknown";
			p.load(in);
		} catch (IOException e) {
			return "unknown";
		}
		return p.getProperty("version", "unknown");
	}
}
