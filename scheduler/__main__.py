from scheduler import main

main()
