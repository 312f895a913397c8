/*
 * main_stub.c - `poolguard db` on its own, until src/main.c dispatches to it:
 * `db_stub db --config ...` runs dbcmd_main() with argv[1..].
 */
#include "poolguard/db.h"

int
main(int argc, char **argv)
{
	if (argc < 2)
		return dbcmd_main(argc, argv);
	return dbcmd_main(argc - 1, argv + 1);
}
