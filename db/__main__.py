from db import main

main()
