<?php
echo "before exit\n";
exit(3);
