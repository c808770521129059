from builder import main

main()
