from fsivr.cli import main

raise SystemExit(main())
