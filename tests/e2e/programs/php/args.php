<?php
$args = array_slice($argv, 1);
echo "argc=", count($args), "\n";
foreach ($args as $a) {
    echo "[$a]\n";
}
