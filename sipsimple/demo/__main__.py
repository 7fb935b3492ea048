from sipsimple.demo.caller import main

raise SystemExit(main())
